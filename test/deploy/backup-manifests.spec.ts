import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allRenders, customers, k8s, named, ofKind, renderedOf, sites, type K8sObject } from '../support/kustomize';

/**
 * Backups per tier as rendered (their structure is checked with every other object in
 * manifests.spec.ts): every render keeps the erasure ledger outside the database and can run the
 * recovery step; PostgreSQL is backed up by pg_dump (starter, standard) or CloudNativePG
 * (enterprise), EventStoreDB by its file copy wherever it runs, each with a retention.
 */

const tierOf = (objects: K8sObject[]) =>
  objects.find((object) => object.metadata.labels?.['tessera.io/tier'])!.metadata.labels!['tessera.io/tier'];
const podSpecOf = (cronJob: K8sObject) => cronJob.spec.jobTemplate.spec.template.spec;
const envOf = (container: { env?: { name: string; value?: string }[] }) =>
  Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));
const majorOf = (image: string) => /:(\d+)/.exec(image)?.[1];

describe.each(allRenders)('backups in k8s/%s', (directory) => {
  const objects = renderedOf(directory);
  const tier = tierOf(objects);

  test('register records erasures on a shared volume apart from the database, and the recovery Job reads the same volume', () => {
    const ledger = named(objects, 'PersistentVolumeClaim', 'tessera-erasure-ledger')!;
    expect(ledger.spec.accessModes).toEqual(['ReadWriteMany']);
    const register = named(objects, 'Deployment', 'register')!;
    const container = register.spec.template.spec.containers[0];
    const dir = envOf(container).ERASURE_LEDGER_DIR;
    const volume = register.spec.template.spec.volumes.find(
      (candidate: { persistentVolumeClaim?: { claimName: string } }) => candidate.persistentVolumeClaim?.claimName === ledger.metadata.name,
    );
    expect(container.volumeMounts).toContainEqual({ name: volume.name, mountPath: dir });

    const recovery = named(objects, 'CronJob', 'erasure-recovery')!;
    // Never on a schedule: operators create a Job from it after a restore.
    expect(recovery.spec.suspend).toBe(true);
    const job = podSpecOf(recovery);
    const [recover] = job.containers;
    expect(recover.command).toEqual(container.command ?? ['node', 'dist/apps/register/src/main.js']);
    expect(recover.image).toBe(container.image);
    expect(envOf(recover)).toMatchObject({ RECOVER: 'only', ERASURE_LEDGER_DIR: dir });
    // It reaches the stores as register does: the same configuration, secrets, variables from secrets and mounts (the ledger's read-only).
    expect(recover.envFrom).toEqual(container.envFrom);
    const fromSecrets = (env: { name: string; valueFrom?: unknown }[]) => env.filter((variable) => variable.valueFrom);
    expect(fromSecrets(recover.env)).toEqual(fromSecrets(container.env));
    const paths = (mounts: { mountPath: string }[]) => mounts.map((mount) => mount.mountPath).sort();
    expect(paths(recover.volumeMounts)).toEqual(paths(container.volumeMounts));
    const claim = job.volumes.find((candidate: { persistentVolumeClaim?: { claimName: string } }) => candidate.persistentVolumeClaim);
    expect(claim.persistentVolumeClaim.claimName).toBe(ledger.metadata.name);
    expect(recover.volumeMounts).toContainEqual({ name: claim.name, mountPath: dir, readOnly: true });
  });

  test('the erasure ledger is copied off the cluster to the backups’ object store, hourly, added to and never deleted from', () => {
    const copy = named(objects, 'CronJob', 'erasure-ledger-backup')!;
    expect(copy.spec.suspend ?? false).toBe(false);
    expect(copy.spec.concurrencyPolicy).toBe('Forbid');
    expect(copy.spec.schedule.split(' ').slice(1)).toEqual(['*', '*', '*', '*']);
    const spec = podSpecOf(copy);
    const [rclone] = spec.containers;
    expect(rclone.image).toMatch(/^rclone\/rclone[:@]/);
    // `copy`, never `sync` or `move`: what the store holds is never rolled back to what the volume holds.
    const [verb, source, destination] = rclone.args;
    expect(verb).toBe('copy');
    const ledger = spec.volumes.find((volume: { persistentVolumeClaim?: { claimName: string } }) => volume.persistentVolumeClaim);
    expect(ledger.persistentVolumeClaim).toEqual({ claimName: 'tessera-erasure-ledger', readOnly: true });
    expect(rclone.volumeMounts).toContainEqual({ name: ledger.name, mountPath: source, readOnly: true });
    const env = envOf(rclone);
    expect(destination).toBe('store:$(BUCKET)/$(NAMESPACE)/erasure-ledger');
    expect(rclone.env.find((variable: { name: string }) => variable.name === 'NAMESPACE').valueFrom).toEqual({
      fieldRef: { fieldPath: 'metadata.namespace' },
    });
    // The database backups' store and credentials: one bucket and one Secret to keep.
    const credentials = rclone.env
      .filter((variable: { valueFrom?: { secretKeyRef?: unknown } }) => variable.valueFrom?.secretKeyRef)
      .map((variable: { valueFrom: { secretKeyRef: { name: string; key: string } } }) => variable.valueFrom.secretKeyRef);
    expect(credentials).toEqual([
      { name: 'tessera-backup-store', key: 'ACCESS_KEY_ID' },
      { name: 'tessera-backup-store', key: 'ACCESS_SECRET_KEY' },
    ]);
    const cluster = ofKind(objects, 'Cluster').find((object) => object.apiVersion === 'postgresql.cnpg.io/v1');
    if (cluster) {
      const store = cluster.spec.backup.barmanObjectStore;
      expect(store.destinationPath.split('/')[2]).toBe(env.BUCKET);
      expect([store.s3Credentials.accessKeyId, store.s3Credentials.secretAccessKey]).toEqual(credentials);
    }
    // Where External Secrets fill the apps' Secrets, they fill the store's too, with what reads it and nothing more.
    const external = ofKind(objects, 'ExternalSecret');
    if (external.length > 0) {
      const filled = external.find((secret) => secret.spec.target.name === 'tessera-backup-store')!;
      expect(filled.spec.data.map((entry: { secretKey: string }) => entry.secretKey)).toEqual(
        credentials.map((ref: { key: string }) => ref.key),
      );
    }
    // Its way out where everything is denied by default: HTTPS and DNS.
    if (ofKind(objects, 'NetworkPolicy').length === 0) return;
    const labels: Record<string, string> = copy.spec.jobTemplate.spec.template.metadata.labels;
    const egress = ofKind(objects, 'NetworkPolicy')
      .filter((policy) => Object.entries(policy.spec.podSelector.matchLabels ?? {}).every(([key, value]) => labels[key] === value))
      .flatMap((policy) => policy.spec.egress ?? []);
    expect(egress.flatMap((rule: { ports?: { port: number }[] }) => rule.ports?.map((port) => port.port) ?? [])).toEqual(
      expect.arrayContaining([53, 443]),
    );
  });

  test('PostgreSQL is backed up with a retention, by a client of the server’s major version', () => {
    if (tier === 'enterprise') {
      const cluster = ofKind(objects, 'Cluster').find((object) => object.apiVersion === 'postgresql.cnpg.io/v1')!;
      expect(cluster.spec.backup.retentionPolicy).toMatch(/^\d+[dwm]$/);
      expect(cluster.spec.backup.barmanObjectStore.destinationPath).toMatch(/^s3:\/\//);
      const scheduled = ofKind(objects, 'ScheduledBackup');
      expect(scheduled).toHaveLength(1);
      expect(scheduled[0]!.spec).toMatchObject({ cluster: { name: cluster.metadata.name }, method: 'barmanObjectStore' });
      // CloudNativePG's schedule has six fields, seconds first.
      expect(scheduled[0]!.spec.schedule.split(' ')).toHaveLength(6);
      expect(ofKind(objects, 'CronJob').map((job) => job.metadata.name)).not.toContain('postgres-backup');
      return;
    }
    const dump = named(objects, 'CronJob', 'postgres-backup')!;
    const [container] = podSpecOf(dump).containers;
    const server = named(objects, 'StatefulSet', 'postgres');
    // pg_dump refuses a server newer than itself: the same major as the in-cluster server (18 where it is managed).
    expect(majorOf(container.image)).toBe(server ? majorOf(server.spec.template.spec.containers[0].image) : '18');
    expect(Number(envOf(container).RETENTION_DAYS)).toBeGreaterThan(0);
    expect(container.command.join(' ')).toContain('-mtime "+$RETENTION_DAYS" -delete');
    expect(dump.spec.concurrencyPolicy).toBe('Forbid');
  });

  test('EventStoreDB, where it runs, is copied by its documented procedure from a node’s own volume, with a retention', () => {
    const eventstore = named(objects, 'StatefulSet', 'eventstore');
    const backup = named(objects, 'CronJob', 'eventstore-backup');
    if (!eventstore) {
      expect(backup).toBeUndefined();
      return;
    }
    const spec = podSpecOf(backup!);
    const [copy] = spec.containers;
    const script: string = copy.command.join(' ');
    // Index checkpoints, the index, the database checkpoints, then the chunks.
    const order = ["index -name '*.chk'", "index -type f ! -name '*.chk'", './*.chk', './chunk-*'].map((step) => script.indexOf(step));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(Number(envOf(copy).RETENTION_DAYS)).toBeGreaterThan(0);
    const data = spec.volumes.find((volume: { name: string }) => volume.name === 'data').persistentVolumeClaim;
    expect(data.readOnly).toBe(true);
    const node = /^data-(eventstore-\d+)$/.exec(data.claimName)?.[1];
    expect(Number(node!.split('-')[1])).toBeLessThan(eventstore.spec.replicas);
    // A ReadWriteOnce volume: the copy runs on the node that holds it.
    const affinity = spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    expect(affinity.labelSelector.matchLabels['statefulset.kubernetes.io/pod-name']).toBe(node);
  });
});

/** The storage classes a site names (components/cloud, components/on-prem): block storage, and a shared filesystem for ReadWriteMany. */
const STORAGE_CLASSES = {
  cloud: { ReadWriteOnce: 'gp3', ReadWriteMany: 'efs-sc' },
  'on-prem': { ReadWriteOnce: 'local-path', ReadWriteMany: 'nfs-client' },
} as const;
const siteOf = (render: string) =>
  render.startsWith('customers/')
    ? (JSON.parse(readFileSync(join(k8s, render, 'customer.json'), 'utf8')) as { site: string }).site
    : render.replace(/^sites\//, '');

describe.each([...sites.map((site) => `sites/${site}`), ...customers.map((customer) => `customers/${customer}`)])(
  'volumes in k8s/%s',
  (render) => {
    test('every claim names a storage class of the site: the databases’, the backups’ and the erasure ledger’s', () => {
      const objects = renderedOf(render);
      const classes = STORAGE_CLASSES[siteOf(render).endsWith('-cloud') ? 'cloud' : 'on-prem'];
      type Claim = { where: string; modes: string[]; storageClass?: string };
      const claims: Claim[] = [
        ...ofKind(objects, 'PersistentVolumeClaim').map((claim) => ({
          where: `PersistentVolumeClaim/${claim.metadata.name}`,
          modes: claim.spec.accessModes,
          storageClass: claim.spec.storageClassName,
        })),
        ...ofKind(objects, 'StatefulSet').flatMap((set) =>
          (set.spec.volumeClaimTemplates ?? []).map((template: { metadata: { name: string }; spec: any }) => ({
            where: `StatefulSet/${set.metadata.name} ${template.metadata.name}`,
            modes: template.spec.accessModes,
            storageClass: template.spec.storageClassName,
          })),
        ),
        ...ofKind(objects, 'Cluster')
          .filter((cluster) => cluster.apiVersion === 'postgresql.cnpg.io/v1')
          .flatMap((cluster) =>
            (['storage', 'walStorage'] as const)
              .filter((field) => cluster.spec[field])
              .map((field) => ({
                where: `Cluster/${cluster.metadata.name} ${field}`,
                modes: ['ReadWriteOnce'],
                storageClass: cluster.spec[field].storageClass,
              })),
          ),
      ];
      expect(claims.map((claim) => claim.where)).toEqual(
        expect.arrayContaining(['PersistentVolumeClaim/tessera-erasure-ledger', expect.stringMatching(/^(StatefulSet|Cluster)\//)]),
      );
      for (const claim of claims) {
        const expected = claim.modes.includes('ReadWriteMany') ? classes.ReadWriteMany : classes.ReadWriteOnce;
        expect({ where: claim.where, storageClass: claim.storageClass }).toEqual({ where: claim.where, storageClass: expected });
      }
    });
  },
);
