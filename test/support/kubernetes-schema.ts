/**
 * A structural check of rendered Kubernetes objects, without network and without a schema package:
 * each kind we ship has a known apiVersion, and every field we write is one the Kubernetes OpenAPI
 * schema defines at that place, with the right JSON type. A misspelt `readinesProbe` or a
 * `maxUnavailable` under the wrong parent would otherwise be dropped silently by the API server.
 * It covers the fields these manifests use, not the whole API.
 */
type Shape = 'string' | 'number' | 'boolean' | 'intOrString' | 'any' | 'stringMap' | Fields | { list: Shape };
interface Fields {
  readonly [field: string]: Shape;
}

const stringMap: Shape = 'stringMap';
const selector: Fields = {
  matchLabels: stringMap,
  matchExpressions: { list: { key: 'string', operator: 'string', values: { list: 'string' } } },
};
const objectMeta: Fields = { name: 'string', namespace: 'string', labels: stringMap, annotations: stringMap };
const quantityMap: Fields = { cpu: 'intOrString', memory: 'intOrString', 'ephemeral-storage': 'intOrString' };
const httpGet: Fields = { path: 'string', port: 'intOrString', scheme: 'string', httpHeaders: { list: 'any' } };
const execAction: Fields = { command: { list: 'string' } };
const probe: Fields = {
  httpGet,
  exec: execAction,
  tcpSocket: { port: 'intOrString' },
  initialDelaySeconds: 'number',
  periodSeconds: 'number',
  timeoutSeconds: 'number',
  failureThreshold: 'number',
  successThreshold: 'number',
  terminationGracePeriodSeconds: 'number',
};
const envVar: Fields = {
  name: 'string',
  value: 'string',
  valueFrom: {
    secretKeyRef: { name: 'string', key: 'string', optional: 'boolean' },
    configMapKeyRef: { name: 'string', key: 'string', optional: 'boolean' },
    fieldRef: { fieldPath: 'string', apiVersion: 'string' },
  },
};
const container: Fields = {
  name: 'string',
  image: 'string',
  imagePullPolicy: 'string',
  command: { list: 'string' },
  args: { list: 'string' },
  ports: { list: { name: 'string', containerPort: 'number', protocol: 'string' } },
  env: { list: envVar },
  envFrom: {
    list: { configMapRef: { name: 'string', optional: 'boolean' }, secretRef: { name: 'string', optional: 'boolean' }, prefix: 'string' },
  },
  startupProbe: probe,
  readinessProbe: probe,
  livenessProbe: probe,
  lifecycle: { preStop: { exec: execAction, httpGet, sleep: { seconds: 'number' } } },
  resources: { requests: quantityMap, limits: quantityMap },
  securityContext: {
    allowPrivilegeEscalation: 'boolean',
    readOnlyRootFilesystem: 'boolean',
    runAsNonRoot: 'boolean',
    runAsUser: 'number',
    runAsGroup: 'number',
    capabilities: { drop: { list: 'string' }, add: { list: 'string' } },
    seccompProfile: { type: 'string' },
  },
  volumeMounts: { list: { name: 'string', mountPath: 'string', readOnly: 'boolean', subPath: 'string' } },
};
const podSpec: Fields = {
  serviceAccountName: 'string',
  restartPolicy: 'string',
  automountServiceAccountToken: 'boolean',
  terminationGracePeriodSeconds: 'number',
  securityContext: {
    runAsNonRoot: 'boolean',
    runAsUser: 'number',
    runAsGroup: 'number',
    fsGroup: 'number',
    seccompProfile: { type: 'string' },
  },
  containers: { list: container },
  initContainers: { list: container },
  volumes: {
    list: {
      name: 'string',
      emptyDir: { medium: 'string', sizeLimit: 'intOrString' },
      secret: { secretName: 'string', defaultMode: 'number', items: { list: { key: 'string', path: 'string', mode: 'number' } } },
      configMap: { name: 'string' },
      persistentVolumeClaim: { claimName: 'string', readOnly: 'boolean' },
    },
  },
  affinity: {
    podAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { list: { topologyKey: 'string', labelSelector: selector } },
    },
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { list: { topologyKey: 'string', labelSelector: selector } },
      preferredDuringSchedulingIgnoredDuringExecution: {
        list: { weight: 'number', podAffinityTerm: { topologyKey: 'string', labelSelector: selector } },
      },
    },
  },
  topologySpreadConstraints: {
    list: {
      maxSkew: 'number',
      topologyKey: 'string',
      whenUnsatisfiable: 'string',
      labelSelector: selector,
      matchLabelKeys: { list: 'string' },
    },
  },
  nodeSelector: stringMap,
};
const podTemplate: Fields = { metadata: objectMeta, spec: podSpec };
const pvcSpec: Fields = {
  accessModes: { list: 'string' },
  storageClassName: 'string',
  resources: { requests: { storage: 'intOrString' } },
};
const networkPolicyPeer: Fields = {
  podSelector: selector,
  namespaceSelector: selector,
  ipBlock: { cidr: 'string', except: { list: 'string' } },
};
const networkPolicyPort: Fields = { port: 'intOrString', protocol: 'string', endPort: 'number' };
const scrapeEndpoint: Fields = {
  port: 'string',
  path: 'string',
  scheme: 'string',
  interval: 'string',
  scrapeTimeout: 'string',
  honorLabels: 'boolean',
  relabelings: { list: 'any' },
  metricRelabelings: { list: 'any' },
};
/** A ServiceMonitor's and a PodMonitor's spec differ only in the name of their endpoint list. */
const monitorSpec = (endpointList: 'endpoints' | 'podMetricsEndpoints'): Fields => ({
  jobLabel: 'string',
  selector,
  namespaceSelector: { matchNames: { list: 'string' }, any: 'boolean' },
  [endpointList]: { list: scrapeEndpoint },
});
const ingressBackend: Fields = { service: { name: 'string', port: { name: 'string', number: 'number' } } };

/** Per `apiVersion/kind`: the fields of the object besides apiVersion, kind and metadata. */
const kinds: Record<string, Fields> = {
  'v1/Namespace': {},
  'v1/ServiceAccount': { automountServiceAccountToken: 'boolean' },
  'v1/ConfigMap': { data: stringMap },
  'v1/Service': {
    spec: {
      type: 'string',
      clusterIP: 'string',
      publishNotReadyAddresses: 'boolean',
      selector: stringMap,
      ports: { list: { name: 'string', port: 'number', targetPort: 'intOrString', protocol: 'string' } },
    },
  },
  'apps/v1/Deployment': {
    spec: {
      replicas: 'number',
      revisionHistoryLimit: 'number',
      minReadySeconds: 'number',
      progressDeadlineSeconds: 'number',
      selector,
      strategy: { type: 'string', rollingUpdate: { maxUnavailable: 'intOrString', maxSurge: 'intOrString' } },
      template: podTemplate,
    },
  },
  'apps/v1/StatefulSet': {
    spec: {
      replicas: 'number',
      serviceName: 'string',
      podManagementPolicy: 'string',
      selector,
      template: podTemplate,
      volumeClaimTemplates: { list: { metadata: objectMeta, spec: pvcSpec } },
    },
  },
  'batch/v1/Job': {
    spec: { backoffLimit: 'number', activeDeadlineSeconds: 'number', ttlSecondsAfterFinished: 'number', template: podTemplate },
  },
  'batch/v1/CronJob': {
    spec: {
      schedule: 'string',
      suspend: 'boolean',
      concurrencyPolicy: 'string',
      successfulJobsHistoryLimit: 'number',
      failedJobsHistoryLimit: 'number',
      jobTemplate: {
        spec: { backoffLimit: 'number', activeDeadlineSeconds: 'number', ttlSecondsAfterFinished: 'number', template: podTemplate },
      },
    },
  },
  'v1/PersistentVolumeClaim': { spec: pvcSpec },
  'policy/v1/PodDisruptionBudget': {
    spec: { selector, minAvailable: 'intOrString', maxUnavailable: 'intOrString', unhealthyPodEvictionPolicy: 'string' },
  },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    spec: {
      scaleTargetRef: { apiVersion: 'string', kind: 'string', name: 'string' },
      minReplicas: 'number',
      maxReplicas: 'number',
      metrics: {
        list: {
          type: 'string',
          resource: { name: 'string', target: { type: 'string', averageUtilization: 'number', averageValue: 'intOrString' } },
        },
      },
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 'number',
          selectPolicy: 'string',
          policies: { list: { type: 'string', value: 'number', periodSeconds: 'number' } },
        },
        scaleUp: {
          stabilizationWindowSeconds: 'number',
          selectPolicy: 'string',
          policies: { list: { type: 'string', value: 'number', periodSeconds: 'number' } },
        },
      },
    },
  },
  'networking.k8s.io/v1/NetworkPolicy': {
    spec: {
      podSelector: selector,
      policyTypes: { list: 'string' },
      ingress: { list: { from: { list: networkPolicyPeer }, ports: { list: networkPolicyPort } } },
      egress: { list: { to: { list: networkPolicyPeer }, ports: { list: networkPolicyPort } } },
    },
  },
  'networking.k8s.io/v1/Ingress': {
    spec: {
      ingressClassName: 'string',
      tls: { list: { hosts: { list: 'string' }, secretName: 'string' } },
      rules: { list: { host: 'string', http: { paths: { list: { path: 'string', pathType: 'string', backend: ingressBackend } } } } },
    },
  },
  // The Prometheus Operator's CRDs (monitoring.coreos.com/v1): the fields used here, as its API reference documents them.
  'monitoring.coreos.com/v1/ServiceMonitor': { spec: monitorSpec('endpoints') },
  'monitoring.coreos.com/v1/PodMonitor': { spec: monitorSpec('podMetricsEndpoints') },
  'monitoring.coreos.com/v1/PrometheusRule': {
    spec: {
      groups: {
        list: {
          name: 'string',
          interval: 'string',
          rules: { list: { alert: 'string', record: 'string', expr: 'string', for: 'string', labels: stringMap, annotations: stringMap } },
        },
      },
    },
  },
  // The External Secrets Operator's CRDs (external-secrets.io/v1): the fields used here, as its API reference documents them.
  'external-secrets.io/v1/ExternalSecret': {
    spec: {
      refreshInterval: 'string',
      secretStoreRef: { kind: 'string', name: 'string' },
      target: { name: 'string', creationPolicy: 'string', deletionPolicy: 'string' },
      data: { list: { secretKey: 'string', remoteRef: { key: 'string', property: 'string', version: 'string' } } },
    },
  },
  'external-secrets.io/v1/SecretStore': {
    spec: {
      provider: {
        vault: {
          server: 'string',
          path: 'string',
          version: 'string',
          auth: { kubernetes: { mountPath: 'string', role: 'string' } },
        },
      },
    },
  },
  // Argo CD's ApplicationSet (argoproj.io/v1alpha1): the fields used here, as its documentation has them.
  'argoproj.io/v1alpha1/ApplicationSet': {
    spec: {
      goTemplate: 'boolean',
      goTemplateOptions: { list: 'string' },
      generators: {
        list: {
          // Argo CD's list generator is left out: its field is called `list`, the marker of list shapes here.
          git: { repoURL: 'string', revision: 'string', files: { list: { path: 'string' } }, directories: { list: { path: 'string' } } },
        },
      },
      syncPolicy: { preserveResourcesOnDeletion: 'boolean' },
      template: {
        metadata: objectMeta,
        spec: {
          project: 'string',
          source: { repoURL: 'string', targetRevision: 'string', path: 'string' },
          destination: { server: 'string', namespace: 'string' },
          syncPolicy: {
            automated: { prune: 'boolean', selfHeal: 'boolean' },
            syncOptions: { list: 'string' },
            retry: { limit: 'number', backoff: { duration: 'string', factor: 'number', maxDuration: 'string' } },
          },
        },
      },
    },
  },
  // cert-manager's CRDs (cert-manager.io/v1): the fields used here, as its API reference documents them.
  'cert-manager.io/v1/Issuer': { spec: { selfSigned: {}, ca: { secretName: 'string' } } },
  'cert-manager.io/v1/Certificate': {
    spec: {
      isCA: 'boolean',
      commonName: 'string',
      secretName: 'string',
      duration: 'string',
      renewBefore: 'string',
      dnsNames: { list: 'string' },
      usages: { list: 'string' },
      privateKey: { algorithm: 'string', size: 'number', rotationPolicy: 'string' },
      issuerRef: { kind: 'string', name: 'string', group: 'string' },
    },
  },
  // KEDA's ScaledObject (keda.sh/v1alpha1): the fields used here, as its reference documents them.
  'keda.sh/v1alpha1/ScaledObject': {
    spec: {
      scaleTargetRef: { name: 'string', kind: 'string', apiVersion: 'string' },
      minReplicaCount: 'number',
      maxReplicaCount: 'number',
      pollingInterval: 'number',
      cooldownPeriod: 'number',
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleDown: {
              stabilizationWindowSeconds: 'number',
              policies: { list: { type: 'string', value: 'number', periodSeconds: 'number' } },
            },
          },
        },
      },
      triggers: { list: { type: 'string', metricType: 'string', metadata: stringMap } },
    },
  },
  // CloudNativePG's Cluster (a CRD): only the fields used here, as its reference documents them.
  'postgresql.cnpg.io/v1/Cluster': {
    spec: {
      instances: 'number',
      imageName: 'string',
      primaryUpdateStrategy: 'string',
      minSyncReplicas: 'number',
      maxSyncReplicas: 'number',
      bootstrap: { initdb: { database: 'string', owner: 'string' } },
      storage: { size: 'string', storageClass: 'string' },
      affinity: { enablePodAntiAffinity: 'boolean', podAntiAffinityType: 'string', topologyKey: 'string' },
      resources: { requests: quantityMap, limits: quantityMap },
      backup: {
        retentionPolicy: 'string',
        barmanObjectStore: {
          destinationPath: 'string',
          endpointURL: 'string',
          s3Credentials: { accessKeyId: { name: 'string', key: 'string' }, secretAccessKey: { name: 'string', key: 'string' } },
          wal: { compression: 'string', maxParallel: 'number' },
          data: { compression: 'string', jobs: 'number' },
        },
      },
    },
  },
  'postgresql.cnpg.io/v1/ScheduledBackup': {
    spec: {
      schedule: 'string',
      immediate: 'boolean',
      suspend: 'boolean',
      backupOwnerReference: 'string',
      method: 'string',
      target: 'string',
      cluster: { name: 'string' },
    },
  },
};

/** Problems with one object, each as `<kind>/<name> <path>: <what>`; empty when it conforms. */
export function structuralProblems(object: unknown): string[] {
  if (!isRecord(object)) return ['document is not an object'];
  const { apiVersion, kind, metadata, ...rest } = object;
  const id = `${String(kind)}/${isRecord(metadata) ? String(metadata.name) : '?'}`;
  const fields = kinds[`${String(apiVersion)}/${String(kind)}`];
  if (!fields) return [`${id}: apiVersion ${String(apiVersion)} kind ${String(kind)} is not a kind these manifests are checked for`];
  const problems: string[] = [];
  if (!isRecord(metadata) || typeof metadata.name !== 'string' || metadata.name === '') problems.push(`${id}: metadata.name is required`);
  check(objectMeta, metadata, `${id} metadata`, problems);
  check(fields, rest, id, problems);
  return problems;
}

function check(shape: Shape, value: unknown, path: string, problems: string[]): void {
  if (shape === 'any') return;
  if (shape === 'string' || shape === 'number' || shape === 'boolean') {
    if (typeof value !== shape) problems.push(`${path}: expected a ${shape}, got ${JSON.stringify(value)}`);
    return;
  }
  if (shape === 'intOrString') {
    if (typeof value !== 'string' && !Number.isInteger(value)) problems.push(`${path}: expected an integer or a string`);
    return;
  }
  if (shape === 'stringMap') {
    if (!isRecord(value) || Object.values(value).some((entry) => typeof entry !== 'string'))
      problems.push(`${path}: expected a map of strings`);
    return;
  }
  // No object these manifests use has a field called `list`, so the key marks a list shape.
  if ('list' in shape) {
    const items = shape.list as Shape;
    if (!Array.isArray(value)) {
      problems.push(`${path}: expected a list`);
      return;
    }
    value.forEach((item, index) => check(items, item, `${path}[${index}]`, problems));
    return;
  }
  if (!isRecord(value)) {
    problems.push(`${path}: expected an object`);
    return;
  }
  const fields = shape as Fields;
  for (const [key, entry] of Object.entries(value)) {
    if (!(key in fields)) problems.push(`${path}.${key}: not a field here`);
    else check(fields[key]!, entry, `${path}.${key}`, problems);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
