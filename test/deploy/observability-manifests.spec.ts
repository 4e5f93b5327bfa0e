import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { allRules, dashboardFiles, prometheusRuleFromRuleFiles } from '../support/observability';
import { allRenders, matches, named, ofKind, renderedOf, type K8sObject } from '../support/kustomize';

/**
 * What the rendered manifests publish and what they let Prometheus and Grafana find: the Ingress
 * routes the public API and nothing of /metrics, /health or the OpenAPI documents; the tiers that
 * ship the observability component scrape every process under the job names the rules use, and
 * carry the rules and dashboards exactly as the repository holds them.
 */

/** Paths each service must keep serving through the Ingress (PRODUCT.md's public API surface). */
const publicPaths: Record<string, readonly string[]> = {
  login: ['/t/acme/.well-known/openid-configuration', '/t/acme/token', '/t/acme/interaction/abc/login', '/admin/tenants/acme/clients'],
  register: ['/admin/tenants', '/t/acme/users', '/t/acme/me', '/t/acme/password-resets/confirm', '/pages/mailed-token.js'],
  pulse: ['/v1/track', '/v1/batch', '/v1/pixel/track', '/t/acme/profiles/userId/u1', '/t/acme/live', '/t/acme/tracking-purposes'],
  rewards: ['/t/acme/program', '/t/acme/members/u1/redemptions'],
};
/** Served by every service on its one port, for the cluster only. */
const internalPaths = ['/metrics', '/docs', '/docs-json', '/docs/swagger-ui-bundle.js', '/health/live', '/health/ready', '/dev/mailbox'];

/** The Service a request for host + path reaches, by the Ingress rules (Prefix: whole path segments; Exact). */
function routedTo(ingress: K8sObject, host: string, requestPath: string): string | undefined {
  const rule = ingress.spec.rules.find((candidate: { host?: string }) => candidate.host === host);
  const paths: { path: string; pathType: string; backend: { service: { name: string } } }[] = rule?.http.paths ?? [];
  const hits = paths.filter(({ path, pathType }) => {
    if (pathType === 'Exact') return requestPath === path;
    const prefix = path.replace(/\/+$/, '');
    return prefix === '' || requestPath === prefix || requestPath.startsWith(`${prefix}/`);
  });
  // The longest matching path wins, as the Ingress specification has it.
  hits.sort((a, b) => b.path.length - a.path.length);
  return hits[0]?.backend.service.name;
}

const podLabelsOf = (objects: K8sObject[], deployment: string) => named(objects, 'Deployment', deployment)!.spec.template.metadata.labels;

describe.each(allRenders)('k8s/%s', (directory) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderedOf(directory);
  });

  test('the Ingress routes every public API path to its service and none of /metrics, /health or /docs', () => {
    const ingress = named(objects, 'Ingress', 'tessera')!;
    const hosts = ingress.spec.rules.map((rule: { host: string }) => rule.host) as string[];
    expect(hosts).toHaveLength(4);
    for (const [service, paths] of Object.entries(publicPaths)) {
      const host = hosts.find((candidate) => candidate.startsWith(`${service}.`))!;
      for (const path of paths) expect({ host, path, to: routedTo(ingress, host, path) }).toEqual({ host, path, to: service });
    }
    for (const host of hosts)
      for (const path of internalPaths) expect({ host, path, to: routedTo(ingress, host, path) }).toEqual({ host, path, to: undefined });
  });
});

const monitored = allRenders.filter((directory) => !directory.includes('starter'));

describe.each(monitored)('observability component in k8s/%s', (directory) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderedOf(directory);
  });

  test('every process is scraped at /metrics on a port it serves, with its Deployment name as the job', () => {
    const deployments = ofKind(objects, 'Deployment').filter(
      (deployment) => deployment.metadata.labels?.['app.kubernetes.io/part-of'] === 'tessera',
    );
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual([
      'login',
      'pulse',
      'pulse-projector',
      'register',
      'rewards',
      'rewards-projector',
    ]);
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const podLabels = podLabelsOf(objects, name);
      const containerPorts = deployment.spec.template.spec.containers.flatMap((container: any) =>
        container.ports.map((port: any) => port.name),
      );
      const service = ofKind(objects, 'Service').find((candidate) => matches(candidate.spec.selector, podLabels));
      const byService = ofKind(objects, 'ServiceMonitor').filter(
        (monitor) => service && matches(monitor.spec.selector.matchLabels, service.metadata.labels),
      );
      const byPod = ofKind(objects, 'PodMonitor').filter((monitor) => matches(monitor.spec.selector.matchLabels, podLabels));
      // Exactly one monitor: two would scrape every sample twice and double every rate.
      expect({ name, monitors: byService.length + byPod.length }).toEqual({ name, monitors: 1 });
      const [monitor] = [...byService, ...byPod];
      const endpoints = monitor!.spec.endpoints ?? monitor!.spec.podMetricsEndpoints;
      for (const endpoint of endpoints) {
        expect(endpoint).toMatchObject({ path: '/metrics', honorLabels: true });
        const servicePort = service?.spec.ports.find((port: any) => port.name === endpoint.port);
        const scraped = byService.length > 0 ? servicePort?.targetPort : endpoint.port;
        expect({ name, scrapes: scraped, served: containerPorts.includes(scraped) }).toEqual({
          name,
          scrapes: endpoint.port,
          served: true,
        });
      }
      // The job label comes from this label of the Service or pod: it must be the name the rules use.
      const labelled = byService.length > 0 ? service!.metadata.labels : podLabels;
      expect({ name, job: labelled?.[monitor!.spec.jobLabel] }).toEqual({ name, job: name });
    }
  });

  test("the rules' job names are exactly the scraped processes", () => {
    const jobs = ofKind(objects, 'Deployment').map((deployment) => deployment.metadata.name);
    const targetDown = allRules().find((rule) => rule.alert === 'TesseraTargetDown')!;
    const listed = /job=~"([^"]+)"/.exec(targetDown.expr)![1]!.split('|').sort();
    expect(listed).toEqual(jobs.filter((job) => job !== 'eventstore').sort());
  });

  test('the PrometheusRule holds the rule files unchanged', () => {
    const rules = ofKind(objects, 'PrometheusRule');
    expect(rules).toHaveLength(1);
    expect(rules[0]!.spec).toEqual((prometheusRuleFromRuleFiles() as { spec: unknown }).spec);
  });

  test('one dashboard ConfigMap per dashboard file, labelled for the Grafana sidecar, holding the file as it is', () => {
    const dashboards = ofKind(objects, 'ConfigMap').filter((map) => map.metadata.labels?.grafana_dashboard === '1');
    const files = dashboardFiles();
    expect(dashboards).toHaveLength(files.length);
    for (const file of files) {
      const key = basename(file);
      const holder = dashboards.find((map) => key in (map.data ?? {}));
      expect({ key, content: holder?.data[key] }).toEqual({ key, content: readFileSync(file, 'utf8') });
      expect(holder!.metadata.name).toBe(`tessera-dashboard-${key.replace(/\.json$/, '')}`);
    }
  });
});

test('starter installs no Prometheus Operator objects (its single box need not run the operator)', () => {
  for (const directory of allRenders.filter((candidate) => candidate.includes('starter'))) {
    const objects = renderedOf(directory);
    expect(objects.filter((object) => object.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
  }
});
