import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadLoginConfig } from '../../apps/login/src/login.config';
import { loadPulseConfig } from '../../apps/pulse/src/pulse.config';
import { loadRegisterConfig } from '../../apps/register/src/register.config';
import { loadRewardsConfig } from '../../apps/rewards/src/rewards.config';
import { ConfigError } from '#platform';
import { structuralProblems } from '../support/kubernetes-schema';
import { allRenders, customers, k8s, named, ofKind, renderedOf, tiers, type K8sObject } from '../support/kustomize';

/**
 * Which secrets reach which pod, and how customers are stamped out by Argo CD: every app reads a
 * Secret of its own holding exactly what it needs (mail credentials only in register's), the
 * External Secrets component fills those Secrets from the customer's store, and the ApplicationSet
 * makes one Application per customer directory, in the namespace that directory renders to.
 */

const repoRoot = resolve(__dirname, '../..');
const loaders: Record<string, (env: Record<string, string | undefined>) => unknown> = {
  login: loadLoginConfig,
  register: loadRegisterConfig,
  pulse: loadPulseConfig,
  rewards: loadRewardsConfig,
};
/** What the operator puts in each app's Secret, per the base kustomization's comment and the README. */
const secretKeys: Record<string, readonly string[]> = {
  login: ['TESSERA_MASTER_KEY', 'ADMIN_TOKEN', 'DATABASE_URL'],
  register: ['TESSERA_MASTER_KEY', 'ADMIN_TOKEN', 'DATABASE_URL', 'SMTP_URL'],
  pulse: ['TESSERA_MASTER_KEY', 'ADMIN_TOKEN', 'DATABASE_URL'],
  rewards: ['TESSERA_MASTER_KEY', 'ADMIN_TOKEN', 'DATABASE_URL'],
};
/** Plausible values, distinct from the example secrets every service refuses. */
const sample: Record<string, string> = {
  TESSERA_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
  ADMIN_TOKEN: 'x'.repeat(48),
  DATABASE_URL: 'postgres://tessera:secret@postgres:5432/tessera',
  SMTP_URL: 'smtps://user:secret@smtp.example.com:465',
};

const appOf = (deployment: K8sObject): string =>
  deployment.spec.template.spec.containers[0].env.find((variable: { name: string }) => variable.name === 'SERVICE').value;
const secretRefs = (deployment: K8sObject): string[] =>
  deployment.spec.template.spec.containers[0].envFrom.flatMap((source: { secretRef?: { name: string } }) =>
    source.secretRef ? [source.secretRef.name] : [],
  );

/** The environment a Deployment's container starts with, its Secret holding `keys`. */
function podEnvironment(objects: K8sObject[], deployment: K8sObject, keys: readonly string[]): Record<string, string | undefined> {
  const [container] = deployment.spec.template.spec.containers;
  const config = container.envFrom.find((source: { configMapRef?: unknown }) => source.configMapRef).configMapRef.name;
  const env: Record<string, string | undefined> = { ...named(objects, 'ConfigMap', config)!.data };
  for (const key of keys) env[key] = sample[key];
  // `env` entries win over envFrom; a secretKeyRef (CloudNativePG's URI) gets a sample value.
  for (const variable of container.env) env[variable.name] = variable.value ?? (variable.valueFrom ? sample.DATABASE_URL : undefined);
  return env;
}

const problemsLoading = (app: string, env: Record<string, string | undefined>): string[] => {
  try {
    loaders[app]!(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => problem.variable).sort();
    throw error;
  }
};

describe.each(allRenders)('secrets in k8s/%s', (directory) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderedOf(directory);
  });

  test("every pod reads its own app's Secret and no other, and its app starts on what the pod gets", () => {
    for (const deployment of ofKind(objects, 'Deployment')) {
      const app = appOf(deployment);
      const name = deployment.metadata.name;
      expect({ name, secrets: secretRefs(deployment) }).toEqual({ name, secrets: [`tessera-${app}`] });
      expect({ name, problems: problemsLoading(app, podEnvironment(objects, deployment, secretKeys[app]!)) }).toEqual({
        name,
        problems: [],
      });
    }
  });

  test('register alone needs mail credentials: it refuses to start in production without them', () => {
    const register = named(objects, 'Deployment', 'register')!;
    const withoutMail = secretKeys.register!.filter((key) => key !== 'SMTP_URL');
    expect(problemsLoading('register', podEnvironment(objects, register, withoutMail))).toEqual(['SMTP_URL']);
  });

  test('where External Secrets fill them, there is one ExternalSecret per referenced Secret, each with only its app’s keys', () => {
    const external = ofKind(objects, 'ExternalSecret');
    if (external.length === 0) return;
    const referenced = new Set(ofKind(objects, 'Deployment').flatMap(secretRefs));
    // The apps' Secrets; the backups' object store has its own (backup-manifests.spec.ts).
    const ofApps = external.filter((secret) => secret.spec.target.name !== 'tessera-backup-store');
    expect(ofApps.map((secret) => secret.spec.target.name).sort()).toEqual([...referenced].sort());
    // The database URL comes from CloudNativePG wherever this component is used (enterprise).
    const fromOperator = ofKind(objects, 'Deployment').every((deployment) =>
      deployment.spec.template.spec.containers[0].env.some((variable: any) => variable.name === 'DATABASE_URL' && variable.valueFrom),
    );
    expect(fromOperator).toBe(true);
    for (const secret of ofApps) {
      const app = secret.spec.target.name.replace(/^tessera-/, '');
      const keys = secret.spec.data.map((entry: { secretKey: string }) => entry.secretKey).sort();
      expect({ app, keys }).toEqual({ app, keys: secretKeys[app]!.filter((key) => key !== 'DATABASE_URL').sort() });
      expect(named(objects, 'SecretStore', secret.spec.secretStoreRef.name)).toMatchObject({ kind: 'SecretStore' });
      // Each app's admin token is a property of its own: one leaked token does not open another app's admin API.
      const admin = secret.spec.data.find((entry: { secretKey: string }) => entry.secretKey === 'ADMIN_TOKEN');
      expect(admin.remoteRef.property).toBe(`${app.toUpperCase()}_ADMIN_TOKEN`);
    }
  });
});

describe('Argo CD ApplicationSet (k8s/gitops)', () => {
  const objects = renderedOf('gitops');
  const applicationSet = ofKind(objects, 'ApplicationSet')[0]!;
  type Customer = { customer: string; tier: string; site: string; revision: string };
  const customerFile = (customer: string): Customer =>
    JSON.parse(readFileSync(join(k8s, 'customers', customer, 'customer.json'), 'utf8')) as Customer;
  /** The Application the git files generator makes of one customer.json, with Go templates as Argo CD fills them. */
  const applicationOf = (customer: string) => {
    const parameters: Record<string, string> = { ...customerFile(customer), 'path.path': `k8s/customers/${customer}` };
    const filled = JSON.stringify(applicationSet.spec.template).replace(/\{\{\.([a-z.]+)\}\}/g, (_match, key: string) => {
      if (!(key in parameters)) throw new Error(`the template reads .${key}, which the generator does not set (missingkey=error)`);
      return parameters[key]!;
    });
    return JSON.parse(filled) as { metadata: { name: string }; spec: any };
  };

  test('conforms to its kind, and its generator finds every customer directory and nothing else', () => {
    expect(objects.flatMap((object) => structuralProblems(object))).toEqual([]);
    expect(ofKind(objects, 'ApplicationSet')).toHaveLength(1);
    const [generator] = applicationSet.spec.generators;
    expect(generator.git.files).toEqual([{ path: 'k8s/customers/*/customer.json' }]);
    expect(customers.length).toBeGreaterThanOrEqual(2);
    for (const customer of customers) expect(customerFile(customer).customer).toBe(customer);
  });

  test.each(customers)('%s: its Application deploys its directory into the namespace that directory renders to, its own', (customer) => {
    const application = applicationOf(customer);
    const { tier, site } = customerFile(customer);
    expect(tiers).toContain(tier);
    expect(application.metadata.name).toBe(`tessera-${customer}`);
    expect(application.spec.source.path).toBe(`k8s/customers/${customer}`);
    const rendered = renderedOf(`customers/${customer}`);
    const namespaces = new Set(rendered.map((object) => object.metadata.namespace).filter((ns) => ns !== undefined));
    expect([...namespaces]).toEqual([application.spec.destination.namespace]);
    expect(named(rendered, 'Namespace', application.spec.destination.namespace)).toMatchObject({ kind: 'Namespace' });
    // The site it names is the one it builds on, and the tier's label is on everything.
    const kustomization = readFileSync(join(k8s, 'customers', customer, 'kustomization.yaml'), 'utf8');
    expect(kustomization).toContain(`../../sites/${site}`);
    for (const object of rendered) expect(object.metadata.labels?.['tessera.io/tier']).toBe(tier);
  });

  test('no two customers share a namespace', () => {
    const namespaces = customers.map((customer) => applicationOf(customer).spec.destination.namespace);
    expect(new Set(namespaces).size).toBe(customers.length);
  });
});

test("the README creates each app's Secret, in the namespace each tier's manifests use", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const created = [...readme.matchAll(/kubectl -n "\$NS" create secret generic (tessera-[a-z-]*[a-z])/g)].map((match) => match[1]);
  const referenced = new Set(tiers.flatMap((tier) => ofKind(renderedOf(`overlays/${tier}`), 'Deployment').flatMap(secretRefs)));
  // And the backups' object store, which every tier's ledger copy reads (backup-manifests.spec.ts).
  referenced.add('tessera-backup-store');
  expect([...new Set(created)].sort()).toEqual([...referenced].sort());
  for (const tier of tiers) {
    const [namespace] = ofKind(renderedOf(`overlays/${tier}`), 'Namespace');
    expect(readme).toContain(`NS=${namespace!.metadata.name}   # ${tier}`);
  }
});
