import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PATH_METADATA } from '@nestjs/common/constants';
import { HealthController, platformEnvSchema } from '#platform';
import { structuralProblems } from '../support/kubernetes-schema';
import { allRenders, matches, named, ofKind, renderedOf, sites, tiers, type K8sObject } from '../support/kustomize';

const repoRoot = resolve(__dirname, '../..');
const services: Record<string, number> = { login: 3001, register: 3002, pulse: 3003, rewards: 3004 };
/**
 * The projector Deployments: the app whose build each runs in the projector role for no client at
 * all, the variable that names the role, and the role its app's API Deployment runs in.
 */
const projectors = {
  'pulse-projector': { app: 'pulse', roleVariable: 'PULSE_ROLE', apiRole: 'ingest' },
  'rewards-projector': { app: 'rewards', roleVariable: 'REWARDS_ROLE', apiRole: 'api' },
} as const;
type ProjectorName = keyof typeof projectors;
const projectorNames = Object.keys(projectors) as ProjectorName[];
/** Every Deployment: the app whose build it runs and its port. The services serve clients through a Service each. */
const deployed: Record<string, { app: string; port: number }> = {
  ...Object.fromEntries(Object.entries(services).map(([name, port]) => [name, { app: name, port }])),
  ...Object.fromEntries(Object.entries(projectors).map(([name, { app }]) => [name, { app, port: services[app]! }])),
};
const projector = 'pulse-projector';

/** The shared configuration, generated with a content hash in its name so a change rolls the Deployments. */
function tesseraConfig(objects: K8sObject[]): K8sObject {
  const generated = ofKind(objects, 'ConfigMap').filter((object) => /^tessera-config-[a-z0-9]{6,}$/.test(object.metadata.name));
  expect(generated).toHaveLength(1);
  return generated[0]!;
}

/** The probe paths the platform's HealthController really serves, read from its Nest route metadata. */
function healthRoute(method: 'live' | 'ready'): string {
  const base = Reflect.getMetadata(PATH_METADATA, HealthController) as string;
  const path = Reflect.getMetadata(PATH_METADATA, HealthController.prototype[method]) as string;
  return `/${base}/${path}`.replace(/\/+/g, '/');
}

/** Replicas a workload runs with at least: the HPA's or KEDA ScaledObject's floor when one scales it. */
function minimumReplicas(objects: K8sObject[], workload: K8sObject): number {
  const hpa = ofKind(objects, 'HorizontalPodAutoscaler').find(
    (candidate) => candidate.spec.scaleTargetRef.kind === workload.kind && candidate.spec.scaleTargetRef.name === workload.metadata.name,
  );
  const scaled = ofKind(objects, 'ScaledObject').find(
    (candidate) => workload.kind === 'Deployment' && candidate.spec.scaleTargetRef.name === workload.metadata.name,
  );
  return hpa ? hpa.spec.minReplicas : scaled ? scaled.spec.minReplicaCount : (workload.spec.replicas ?? 1);
}

describe.each(allRenders)('kustomize render of k8s/%s', (directory) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderedOf(directory);
  });

  test('every object conforms to the structure of its Kubernetes kind', () => {
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.flatMap((object) => structuralProblems(object))).toEqual([]);
  });

  test('each of the four services has a Deployment, Service, ServiceAccount and PodDisruptionBudget', () => {
    for (const name of Object.keys(services)) {
      for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'PodDisruptionBudget']) {
        expect({ kind, name, present: named(objects, kind, name) !== undefined }).toEqual({ kind, name, present: true });
      }
    }
  });

  test('every Deployment rolls without losing capacity, probes the served health paths and runs locked down', () => {
    const ready = healthRoute('ready');
    const live = healthRoute('live');
    const config = tesseraConfig(objects);
    for (const deployment of ofKind(objects, 'Deployment')) {
      const name = deployment.metadata.name;
      expect({ name, known: name in deployed }).toEqual({ name, known: true });
      const { app, port: appPort } = deployed[name]!;
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      expect({ name, strategy: deployment.spec.strategy }).toEqual({
        name,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      });

      const port = container.ports.find((p: any) => p.name === 'http');
      expect(port?.containerPort).toBe(appPort);
      expect(container.env).toEqual(
        expect.arrayContaining([
          { name: 'SERVICE', value: app },
          { name: 'PORT', value: String(appPort) },
        ]),
      );
      expect(container.readinessProbe.httpGet).toEqual({ path: ready, port: 'http' });
      expect(container.livenessProbe.httpGet).toEqual({ path: live, port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: live, port: 'http' });
      expect(container.command).toEqual(['node', `dist/apps/${app}/src/main.js`]);

      for (const kind of ['requests', 'limits']) {
        expect({ name, kind, cpu: typeof container.resources[kind]?.cpu, memory: typeof container.resources[kind]?.memory }).toEqual({
          name,
          kind,
          cpu: 'string',
          memory: 'string',
        });
      }
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      // With a read-only root, Node and its libraries may only write to /tmp.
      const tmp = container.volumeMounts.find((mount: any) => mount.mountPath === '/tmp');
      expect(pod.volumes.find((volume: any) => volume.name === tmp?.name)).toMatchObject({ emptyDir: expect.any(Object) });

      // Its app's own Secret (test/deploy/secrets-and-gitops.spec.ts checks what each holds).
      expect(container.envFrom).toEqual(
        expect.arrayContaining([{ configMapRef: { name: config.metadata.name } }, { secretRef: { name: `tessera-${app}` } }]),
      );
      // Its only local volume is /tmp: cluster-autoscaler and Karpenter may move it to drain a node.
      expect({ name, emptyDirs: pod.volumes.filter((volume: any) => volume.emptyDir).map((volume: any) => volume.name) }).toEqual({
        name,
        emptyDirs: [tmp.name],
      });
      expect({
        name,
        evictable: deployment.spec.template.metadata.annotations?.['cluster-autoscaler.kubernetes.io/safe-to-evict'],
      }).toEqual({
        name,
        evictable: 'true',
      });
      // The kubelet waits for preStop, then SIGTERM starts the drain and the in-flight wait: all must fit the grace period.
      const preStop = container.lifecycle.preStop.exec.command;
      expect(preStop[0]).toBe('sleep');
      const drainSeconds = Number(config.data.SHUTDOWN_DRAIN_MS) / 1000;
      const inFlightSeconds = Number(config.data.SHUTDOWN_IN_FLIGHT_TIMEOUT_MS) / 1000;
      expect(config.data.SHUTDOWN_DRAIN_DELAY_MS).toBeUndefined();
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(preStop[1]) + drainSeconds + inFlightSeconds);

      expect(pod.serviceAccountName).toBe(name);
      expect(named(objects, 'ServiceAccount', name)).toMatchObject({ kind: 'ServiceAccount', metadata: { name: name } });
    }
  });

  test('Services and PodDisruptionBudgets select the pods of their workload, and the Ingress routes to Services', () => {
    const workloads = [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'StatefulSet')];
    for (const service of ofKind(objects, 'Service')) {
      const target = workloads.find((workload) => matches(service.spec.selector, workload.spec.template.metadata.labels));
      expect({ service: service.metadata.name, selects: target?.metadata.name }).toEqual({
        service: service.metadata.name,
        selects: expect.any(String),
      });
      for (const port of service.spec.ports) {
        const served = target!.spec.template.spec.containers.flatMap((container: any) => container.ports.map((p: any) => p.name));
        expect(served).toContain(port.targetPort);
      }
    }
    for (const budget of ofKind(objects, 'PodDisruptionBudget')) {
      expect(workloads.some((workload) => matches(budget.spec.selector.matchLabels, workload.spec.template.metadata.labels))).toBe(true);
    }
    const ingress = named(objects, 'Ingress', 'tessera')!;
    for (const rule of ingress.spec.rules) {
      for (const path of rule.http.paths)
        expect(named(objects, 'Service', path.backend.service.name)).toMatchObject({
          kind: 'Service',
          metadata: { name: path.backend.service.name },
        });
    }
  });

  test('every workload with more than one replica has a PodDisruptionBudget that leaves one running', () => {
    for (const workload of [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'StatefulSet')]) {
      const replicas = minimumReplicas(objects, workload);
      if (replicas <= 1) continue;
      const budget = ofKind(objects, 'PodDisruptionBudget').find((candidate) =>
        matches(candidate.spec.selector.matchLabels, workload.spec.template.metadata.labels),
      );
      expect({ workload: workload.metadata.name, budget: budget?.metadata.name }).toEqual({
        workload: workload.metadata.name,
        budget: expect.any(String),
      });
      const allowsAll = budget!.spec.minAvailable === 0 || (budget!.spec.maxUnavailable ?? 0) >= replicas;
      expect(allowsAll).toBe(false);
    }
  });

  test.each(projectorNames)(
    "%s is its app's build in the projector role; the app's API Deployment runs the API role, no other the projections",
    (name) => {
      const { app, roleVariable, apiRole } = projectors[name];
      const api = named(objects, 'Deployment', app)!.spec.template.spec.containers[0];
      const worker = named(objects, 'Deployment', name)!.spec.template.spec.containers[0];
      expect(api.env).toEqual(expect.arrayContaining([{ name: roleVariable, value: apiRole }]));
      expect(worker.env).toEqual(expect.arrayContaining([{ name: roleVariable, value: 'projector' }]));
      // Same release: an image override or a roll moves both roles together.
      expect({ image: worker.image, command: worker.command }).toEqual({ image: api.image, command: api.command });
      // The app's build without the role variable runs `all`, the projections included.
      const runsProjection = ofKind(objects, 'Deployment').filter((deployment) => {
        const [container] = deployment.spec.template.spec.containers;
        const role = container.env?.find((variable: { name: string }) => variable.name === roleVariable)?.value ?? 'all';
        return container.command.join(' ') === api.command.join(' ') && role !== apiRole;
      });
      expect(runsProjection.map((deployment) => deployment.metadata.name)).toEqual([name]);
    },
  );

  test.each(projectorNames)('%s keeps one replica, no autoscaler, and a budget that lets a drain evict it', (name) => {
    const deployment = named(objects, 'Deployment', name)!;
    expect(deployment.spec.replicas).toBe(1);
    expect(ofKind(objects, 'HorizontalPodAutoscaler').filter((hpa) => hpa.spec.scaleTargetRef.name === name)).toEqual([]);
    expect(ofKind(objects, 'ScaledObject').filter((scaled) => scaled.spec.scaleTargetRef.name === name)).toEqual([]);
    expect(named(objects, 'ServiceAccount', name)).toMatchObject({ kind: 'ServiceAccount', metadata: { name } });
    const labels = deployment.spec.template.metadata.labels;
    const budgets = ofKind(objects, 'PodDisruptionBudget').filter((budget) => matches(budget.spec.selector.matchLabels, labels));
    expect(budgets.map((budget) => budget.metadata.name)).toEqual([name]);
    const { minAvailable, maxUnavailable } = budgets[0]!.spec;
    expect(minAvailable === 0 || (minAvailable === undefined && maxUnavailable >= 1)).toBe(true);
  });

  test.each(projectorNames)('no Service selects %s pods and the Ingress does not reach them', (name) => {
    const labels = named(objects, 'Deployment', name)!.spec.template.metadata.labels;
    const selecting = ofKind(objects, 'Service').filter((service) => matches(service.spec.selector, labels));
    expect(selecting.map((service) => service.metadata.name)).toEqual([]);
    const backends = named(objects, 'Ingress', 'tessera')!.spec.rules.flatMap((rule: any) =>
      rule.http.paths.map((path: any) => path.backend.service.name),
    );
    expect(backends.length).toBeGreaterThan(0);
    for (const backend of backends) expect(matches(named(objects, 'Service', backend)!.spec.selector, labels)).toBe(false);
  });

  test.each(projectorNames)('where NetworkPolicies apply, %s admits metrics scraping only and reaches its event store', (name) => {
    if (ofKind(objects, 'NetworkPolicy').length === 0) return;
    const projectorPods = podLabels(objects, name);
    const apiPods = podLabels(objects, projectors[name].app);
    // Isolated for ingress, with monitoring as its only peer: not the ingress controller, not other pods.
    const admitted = ingressRules(objects, projectorPods);
    expect(admitted).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 'http' }] },
    ]);
    // The same scraping reaches the API role, so one Prometheus configuration covers both roles.
    expect(ingressRules(objects, apiPods)).toEqual(expect.arrayContaining(admitted));
    for (const from of ['login', 'register', 'pulse', 'rewards'])
      expect({ from, allowed: connectionAllowed(objects, podLabels(objects, from), projectorPods, 'http') }).toEqual({
        from,
        allowed: false,
      });
    const eventstore = named(objects, 'StatefulSet', 'eventstore');
    if (eventstore) {
      expect(connectionAllowed(objects, apiPods, eventstore.spec.template.metadata.labels, 2113)).toBe(true);
      expect(connectionAllowed(objects, projectorPods, eventstore.spec.template.metadata.labels, 2113)).toBe(true);
    }
  });

  test('TRUST_PROXY names the proxies in front, a hop count or their CIDRs, never true; where pods admit them by address, the same CIDRs', () => {
    const written = tesseraConfig(objects).data.TRUST_PROXY as string | undefined;
    expect(written).toEqual(expect.any(String));
    expect(['true', 'false']).not.toContain(written!.trim().toLowerCase());
    // Parsed the way every service parses it at start-up.
    const trusted = platformEnvSchema().shape.TRUST_PROXY.parse(written);
    expect((typeof trusted === 'number' && trusted >= 1) || (Array.isArray(trusted) && trusted.length > 0)).toBe(true);
    const admittedByAddress = (named(objects, 'NetworkPolicy', 'allow-from-ingress')?.spec.ingress ?? [])
      .flatMap((rule: { from?: { ipBlock?: { cidr: string } }[] }) => rule.from ?? [])
      .flatMap((peer: { ipBlock?: { cidr: string } }) => (peer.ipBlock ? [peer.ipBlock.cidr] : []));
    if (admittedByAddress.length > 0) expect(trusted).toEqual(admittedByAddress);
  });

  test('HorizontalPodAutoscalers use autoscaling/v2 and scale an existing Deployment', () => {
    for (const hpa of ofKind(objects, 'HorizontalPodAutoscaler')) {
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(named(objects, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name)).toMatchObject({
        kind: hpa.spec.scaleTargetRef.kind,
        metadata: { name: hpa.spec.scaleTargetRef.name },
      });
      expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
    }
  });
});

test("the containers' command is where the build puts a service's main.ts", () => {
  // tsconfig.build.json compiles apps/<service>/src/main.ts to dist/apps/<service>/src/main.js.
  const compilerOptions = (name: string) =>
    (JSON.parse(readFileSync(join(repoRoot, name), 'utf8')) as { compilerOptions: Record<string, string> }).compilerOptions;
  expect({ ...compilerOptions('tsconfig.json'), ...compilerOptions('tsconfig.build.json') }).toMatchObject({
    outDir: 'dist',
    rootDir: '.',
  });
  // Services that have landed; the others join this list as their main.ts arrives.
  for (const name of ['register']) expect(existsSync(join(repoRoot, 'apps', name, 'src', 'main.ts'))).toBe(true);
});

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };

/** Whether a pod selector picks pods with these labels (matchLabels and In/NotIn/Exists expressions). */
function selects(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpressions = (selector.matchExpressions ?? []).every((expression) => {
    switch (expression.operator) {
      case 'In':
        return expression.values!.includes(labels[expression.key]!);
      case 'NotIn':
        return !expression.values!.includes(labels[expression.key]!);
      case 'Exists':
        return expression.key in labels;
      default:
        throw new Error(`selector operator ${expression.operator} is not evaluated here`);
    }
  });
  return byLabels && byExpressions;
}

type Labels = Record<string, string>;

/** The labels of a Deployment's pods. */
const podLabels = (objects: K8sObject[], deployment: string): Labels =>
  named(objects, 'Deployment', deployment)!.spec.template.metadata.labels as Labels;

/** The ingress rules of the NetworkPolicies that isolate pods with these labels, which must be isolated. */
function ingressRules(objects: K8sObject[], labels: Labels): unknown[] {
  const isolating = ofKind(objects, 'NetworkPolicy').filter(
    (policy) => policy.spec.policyTypes.includes('Ingress') && selects(policy.spec.podSelector, labels),
  );
  expect(isolating.length).toBeGreaterThan(0);
  return isolating.flatMap((policy) => policy.spec.ingress ?? []);
}

/**
 * Whether NetworkPolicies let pods with the `from` labels open a connection to a container port
 * (by name or number) of pods with the `to` labels in the same namespace: allowed unless a policy
 * isolates a side, and then only if one of the policies isolating that side has a rule for the
 * peer and the port.
 */
function connectionAllowed(objects: K8sObject[], source: Labels, target: Labels, port: string | number): boolean {
  const policies = ofKind(objects, 'NetworkPolicy');
  const portMatches = (ports: { port?: string | number }[] | undefined) =>
    !ports || ports.some((entry) => entry.port === undefined || entry.port === port);
  const side = (direction: 'Ingress' | 'Egress', own: Labels, peer: Labels) => {
    const isolating = policies.filter((policy) => policy.spec.policyTypes.includes(direction) && selects(policy.spec.podSelector, own));
    if (isolating.length === 0) return true;
    const rules = (policy: K8sObject) => (direction === 'Ingress' ? policy.spec.ingress : policy.spec.egress) ?? [];
    return isolating.some((policy) =>
      rules(policy).some(
        (rule: {
          from?: { podSelector?: Selector; namespaceSelector?: Selector }[];
          to?: { podSelector?: Selector; namespaceSelector?: Selector }[];
          ports?: { port?: string | number }[];
        }) =>
          portMatches(rule.ports) &&
          (direction === 'Ingress' ? rule.from : rule.to)?.some(
            (peerRule) => !peerRule.namespaceSelector && selects(peerRule.podSelector, peer),
          ) === true,
      ),
    );
  };
  return side('Egress', source, target) && side('Ingress', target, source);
}

describe('tiers', () => {
  const deployments = (tier: string) => ofKind(renderedOf(`overlays/${tier}`), 'Deployment');
  const config = (tier: string) => tesseraConfig(renderedOf(`overlays/${tier}`)).data;

  test.each(tiers)('%s: register reaches login for key sets, as its config says; other services do not', (tier) => {
    const objects = renderedOf(`overlays/${tier}`);
    expect(config(tier).LOGIN_INTERNAL_URL).toBe(`http://${named(objects, 'Service', 'login')!.metadata.name}`);
    expect(connectionAllowed(objects, podLabels(objects, 'register'), podLabels(objects, 'login'), 'http')).toBe(true);
    if (tier !== 'starter') {
      for (const from of ['pulse', projector])
        expect({ from, allowed: connectionAllowed(objects, podLabels(objects, from), podLabels(objects, 'login'), 'http') }).toEqual({
          from,
          allowed: false,
        });
    }
  });

  test('starter: one replica each, PostgreSQL as the event store, in the cluster', () => {
    const objects = renderedOf('overlays/starter');
    for (const deployment of deployments('starter')) expect(minimumReplicas(objects, deployment)).toBe(1);
    expect(config('starter').EVENTSTORE_URL).toBeUndefined();
    expect(named(objects, 'StatefulSet', 'postgres')?.spec.replicas).toBe(1);
    expect(named(objects, 'Service', 'postgres')).toMatchObject({ kind: 'Service', metadata: { name: 'postgres' } });
    expect(ofKind(objects, 'StatefulSet').map((s) => s.metadata.name)).not.toContain('eventstore');
  });

  test('standard: at least two replicas of each service scaled by HPAs, PDBs with minAvailable 1, EventStoreDB, NetworkPolicies', () => {
    const objects = renderedOf('overlays/standard');
    for (const deployment of deployments('standard').filter((candidate) => candidate.metadata.name in services)) {
      expect(minimumReplicas(objects, deployment)).toBeGreaterThanOrEqual(2);
      expect(named(objects, 'PodDisruptionBudget', deployment.metadata.name)!.spec).toMatchObject({ minAvailable: 1 });
    }
    expect(config('standard').EVENTSTORE_URL).toMatch(/^esdb:\/\/eventstore:2113\b/);
    expect(named(objects, 'Service', 'eventstore')).toMatchObject({ kind: 'Service', metadata: { name: 'eventstore' } });
    expect(ofKind(objects, 'NetworkPolicy').length).toBeGreaterThan(0);
  });

  test('enterprise: own namespace with default-deny, 3-node EventStoreDB with anti-affinity, CloudNativePG, zone spread', () => {
    const objects = renderedOf('overlays/enterprise');
    const namespaces = new Set(objects.map((object) => object.metadata.namespace).filter((ns): ns is string => ns !== undefined));
    expect(namespaces.has('default')).toBe(false);
    expect(namespaces.size).toBeGreaterThan(0);
    for (const namespace of namespaces) {
      expect(named(objects, 'Namespace', namespace)).toMatchObject({ kind: 'Namespace', metadata: { name: namespace } });
      const denyAll = ofKind(objects, 'NetworkPolicy').find(
        (policy) =>
          policy.metadata.namespace === namespace &&
          Object.keys(policy.spec.podSelector).length === 0 &&
          [...policy.spec.policyTypes].sort().join() === 'Egress,Ingress' &&
          policy.spec.ingress === undefined &&
          policy.spec.egress === undefined,
      );
      expect({ namespace, denyAll: denyAll?.metadata.name }).toEqual({ namespace, denyAll: expect.any(String) });
    }
    const eventstore = named(objects, 'StatefulSet', 'eventstore')!;
    expect(eventstore.spec.replicas).toBe(3);
    expect(eventstore.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe(
      'kubernetes.io/hostname',
    );
    expect(config('enterprise').EVENTSTORE_URL).toMatch(/^esdb\+discover:\/\/eventstore-gossip:2113\b/);
    expect(named(objects, 'Service', 'eventstore-gossip')?.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    const postgres = ofKind(objects, 'Cluster').find((object) => object.apiVersion === 'postgresql.cnpg.io/v1')!;
    expect(postgres.spec.instances).toBeGreaterThanOrEqual(3);
    for (const deployment of deployments('enterprise')) {
      const pod = deployment.spec.template.spec;
      expect(pod.topologySpreadConstraints.map((c: any) => c.topologyKey)).toContain('topology.kubernetes.io/zone');
      expect(pod.containers[0].env).toEqual(
        expect.arrayContaining([
          { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: `${postgres.metadata.name}-app`, key: 'uri' } } },
        ]),
      );
      // The projector's single replica is asserted for every render above.
      if (deployment.metadata.name in services) expect(minimumReplicas(objects, deployment)).toBeGreaterThanOrEqual(3);
    }
    // The projectors reach PostgreSQL in the cluster and nothing outside it but what egressRules (below) allows.
    for (const name of projectorNames)
      expect(connectionAllowed(objects, podLabels(objects, name), { 'cnpg.io/cluster': postgres.metadata.name }, 5432)).toBe(true);
  });

  test.each(['standard', 'enterprise'])(
    '%s: EventStoreDB speaks TLS with cert-manager certificates; every client verifies the nodes by the CA and gets only its certificate',
    (tier) => {
      const objects = renderedOf(`overlays/${tier}`);
      const url = new URL(config(tier).EVENTSTORE_URL);
      expect(url.searchParams.get('tls')).toBe('true');
      const caFile = url.searchParams.get('tlsCAFile')!;
      expect(caFile).toMatch(/^\//);
      const certificates = ofKind(objects, 'Certificate');
      const issuers = ofKind(objects, 'Issuer');
      const eventstore = named(objects, 'StatefulSet', 'eventstore')!.spec.template.spec;
      const node = eventstore.containers[0];
      const env = Object.fromEntries(node.env.map((variable: { name: string; value?: string }) => [variable.name, variable.value]));
      expect(env.EVENTSTORE_INSECURE).toBeUndefined();
      for (const probe of [node.readinessProbe, node.livenessProbe]) expect(probe.httpGet.scheme).toBe('HTTPS');
      // The node's certificate and key come from a Certificate issued by a CA Issuer whose CA is a Certificate here too.
      const certsMount = node.volumeMounts.find((mount: { mountPath: string }) =>
        env.EVENTSTORE_CERTIFICATE_FILE.startsWith(`${mount.mountPath}/`),
      );
      const certsVolume = eventstore.volumes.find((volume: { name: string }) => volume.name === certsMount.name);
      const nodeCertificate = certificates.find((certificate) => certificate.spec.secretName === certsVolume.secret.secretName)!;
      expect(nodeCertificate.spec.commonName).toBe('eventstoredb-node');
      const caIssuer = issuers.find((issuer) => issuer.metadata.name === nodeCertificate.spec.issuerRef.name)!;
      const caCertificate = certificates.find((certificate) => certificate.spec.secretName === caIssuer.spec.ca.secretName)!;
      expect(caCertificate.spec.isCA).toBe(true);
      const covers = (name: string) =>
        nodeCertificate.spec.dnsNames.some(
          (dns: string) => dns === name || (dns.startsWith('*.') && name.split('.').slice(1).join('.') === dns.slice(2)),
        );
      // Clients of a cluster connect to the names the nodes advertise: the certificate must cover them.
      if (env.EVENTSTORE_ADVERTISE_HOST_TO_CLIENT_AS) {
        const advertised = env.EVENTSTORE_ADVERTISE_HOST_TO_CLIENT_AS.replace('$(POD_NAME)', 'eventstore-2');
        expect({ advertised, covered: covers(advertised) }).toEqual({ advertised, covered: true });
      }
      expect(covers(url.hostname)).toBe(true);
      for (const deployment of deployments(tier)) {
        const pod = deployment.spec.template.spec;
        const mount = pod.containers[0].volumeMounts.find((candidate: { mountPath: string }) =>
          caFile.startsWith(`${candidate.mountPath}/`),
        );
        const volume = pod.volumes.find((candidate: { name: string }) => candidate.name === mount?.name);
        // Only ca.crt of the CA's Secret: never the CA's private key, never a node's.
        expect({ name: deployment.metadata.name, secret: volume?.secret }).toEqual({
          name: deployment.metadata.name,
          secret: { secretName: caCertificate.spec.secretName, items: [{ key: 'ca.crt', path: caFile.slice(mount.mountPath.length + 1) }] },
        });
      }
    },
  );

  /** Where pods with these labels may open connections outside the cluster: each rule with an ipBlock, or none at all (anywhere). */
  const outsideRules = (objects: K8sObject[], labels: Labels) =>
    ofKind(objects, 'NetworkPolicy')
      .filter((policy) => policy.spec.policyTypes.includes('Egress') && selects(policy.spec.podSelector, labels))
      .flatMap((policy) => policy.spec.egress ?? [])
      .filter((rule: { to?: { ipBlock?: unknown }[] }) => rule.to === undefined || rule.to.some((peer) => peer.ipBlock !== undefined));
  const ports = (rule: { ports?: { port: string | number }[] }) => (rule.ports ?? []).map((entry) => entry.port).sort();
  const smtp = [25, 465, 587];
  const privateRanges = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

  test.each(['standard', 'enterprise'])(
    '%s: default-deny for the whole namespace; outside it only mail (register), webhooks (pulse) and a managed database',
    (tier) => {
      const objects = renderedOf(`overlays/${tier}`);
      const denyAll = ofKind(objects, 'NetworkPolicy').filter(
        (policy) =>
          Object.keys(policy.spec.podSelector).length === 0 &&
          [...policy.spec.policyTypes].sort().join() === 'Egress,Ingress' &&
          policy.spec.ingress === undefined &&
          policy.spec.egress === undefined,
      );
      expect(denyAll).toHaveLength(1);
      const managedDatabase = tier === 'standard' ? [[5432]] : [];
      const expected: Record<string, number[][]> = {
        login: managedDatabase,
        register: [smtp, ...managedDatabase].sort(),
        pulse: [[443], ...managedDatabase].sort(),
        'pulse-projector': [[443], ...managedDatabase].sort(),
        rewards: managedDatabase,
        'rewards-projector': managedDatabase,
      };
      for (const [name, allowed] of Object.entries(expected)) {
        const rules = outsideRules(objects, podLabels(objects, name));
        // Every rule names its ports: none lets a pod reach anything outside on any port.
        for (const rule of rules) expect({ name, ports: ports(rule).length > 0 }).toEqual({ name, ports: true });
        expect({ name, ports: rules.map(ports).sort() }).toEqual({ name, ports: allowed });
      }
      // Webhooks go to public addresses only: the private ranges stay out, even if a receiver's DNS points there.
      for (const name of ['pulse', 'pulse-projector']) {
        const webhooks = outsideRules(objects, podLabels(objects, name)).filter((rule: any) => ports(rule).includes(443));
        for (const rule of webhooks) for (const peer of rule.to) expect(peer.ipBlock.except).toEqual(expect.arrayContaining(privateRanges));
      }
      // The services and the projectors reach the event store; nothing else in the namespace does.
      const eventstore = named(objects, 'StatefulSet', 'eventstore')!.spec.template.metadata.labels;
      for (const name of Object.keys(deployed))
        expect({ name, allowed: connectionAllowed(objects, podLabels(objects, name), eventstore, 2113) }).toEqual({ name, allowed: true });
      expect(connectionAllowed(objects, { 'app.kubernetes.io/name': 'intruder' }, eventstore, 2113)).toBe(false);
    },
  );

  test('on-prem and cloud sites set their own ingress class and storage class on every volume', () => {
    const classes = new Map<string, string>();
    for (const site of sites) {
      const objects = renderedOf(`sites/${site}`);
      const ingressClass = named(objects, 'Ingress', 'tessera')!.spec.ingressClassName;
      expect(typeof ingressClass).toBe('string');
      classes.set(site, ingressClass);
      for (const statefulSet of ofKind(objects, 'StatefulSet')) {
        for (const claim of statefulSet.spec.volumeClaimTemplates) expect(typeof claim.spec.storageClassName).toBe('string');
      }
      for (const cluster of ofKind(objects, 'Cluster')) expect(typeof cluster.spec.storage.storageClass).toBe('string');
    }
    for (const tier of tiers) {
      expect(sites).toEqual(expect.arrayContaining([`${tier}-on-prem`, `${tier}-cloud`]));
      expect(classes.get(`${tier}-on-prem`)).not.toBe(classes.get(`${tier}-cloud`));
    }
  });
});
