import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseYamlDocuments } from './yaml';

/** Renders of k8s/ with `kubectl kustomize`, shared by the deploy tests. */

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: any;
};

export const k8s = resolve(__dirname, '../../k8s');
export const tiers = ['starter', 'standard', 'enterprise'] as const;
export const sites = readdirSync(join(k8s, 'sites')).sort();
/** The customers Argo CD deploys (k8s/customers/<customer>, see k8s/gitops). */
export const customers = readdirSync(join(k8s, 'customers')).sort();
export const allRenders = [
  ...tiers.map((tier) => `overlays/${tier}`),
  ...sites.map((site) => `sites/${site}`),
  ...customers.map((customer) => `customers/${customer}`),
];

function render(directory: string): K8sObject[] {
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', join(k8s, directory)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { code, stderr } = error as { code?: string; stderr?: string };
    if (code === 'ENOENT')
      throw new Error('kubectl is not on PATH: the manifests were NOT rendered (kustomize 5 is needed, e.g. kubectl >= 1.27)', {
        cause: error,
      });
    throw new Error(`kubectl kustomize k8s/${directory} failed:\n${stderr ?? String(error)}`, { cause: error });
  }
  return parseYamlDocuments(text) as K8sObject[];
}

const rendered = new Map<string, K8sObject[]>();
/** `kubectl kustomize k8s/<directory>`, rendered once per test file. */
export const renderedOf = (directory: string): K8sObject[] => {
  if (!rendered.has(directory)) rendered.set(directory, render(directory));
  return rendered.get(directory)!;
};

export const ofKind = (objects: K8sObject[], kind: string) => objects.filter((object) => object.kind === kind);
export const named = (objects: K8sObject[], kind: string, name: string) =>
  ofKind(objects, kind).find((object) => object.metadata.name === name);
export const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);
