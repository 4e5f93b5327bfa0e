import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allRenders, named, ofKind, renderedOf, type K8sObject } from '../support/kustomize';

/**
 * Autoscaling: the tiers' CPU HorizontalPodAutoscalers by default, KEDA ScaledObjects (request
 * rate from our own metrics, CPU, scheduled peaks) where the KEDA component is used. Never both
 * on one Deployment, and never on a projector: one checkpoint has one active consumer.
 */
const projectors = ['pulse-projector', 'rewards-projector'];

describe.each(allRenders)('autoscaling in k8s/%s', (directory) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderedOf(directory);
  });
  const targetsOf = (kind: string) => ofKind(objects, kind).map((scaler) => scaler.spec.scaleTargetRef.name as string);

  test('each Deployment has at most one autoscaler, a projector none, and every autoscaler targets a Deployment that exists', () => {
    const targets = [...targetsOf('HorizontalPodAutoscaler'), ...targetsOf('ScaledObject')];
    expect(targets.length).toBe(new Set(targets).size);
    for (const target of targets) {
      expect(named(objects, 'Deployment', target)).toMatchObject({ kind: 'Deployment' });
      expect(projectors).not.toContain(target);
    }
    for (const projector of projectors) expect(named(objects, 'Deployment', projector)!.spec.replicas).toBe(1);
  });

  test("ScaledObjects scale on this namespace's request rate (a query Prometheus accepts), on CPU, with the tiers' slow scale-in", () => {
    const scaled = ofKind(objects, 'ScaledObject');
    if (scaled.length === 0) return;
    expect(targetsOf('ScaledObject').sort()).toEqual(['login', 'pulse', 'register', 'rewards']);
    const rules: string[] = [];
    for (const object of scaled) {
      const name = object.metadata.name;
      const prometheus = object.spec.triggers.filter((trigger: { type: string }) => trigger.type === 'prometheus');
      expect({ name, prometheus: prometheus.length }).toEqual({ name, prometheus: 1 });
      const { query, threshold } = prometheus[0].metadata;
      expect(query).toContain(`namespace="${object.metadata.namespace}"`);
      expect(query).toContain(`job="${object.spec.scaleTargetRef.name}"`);
      expect(Number(threshold)).toBeGreaterThan(0);
      expect(object.spec.triggers.map((trigger: { type: string }) => trigger.type)).toContain('cpu');
      expect(object.spec.minReplicaCount).toBeGreaterThanOrEqual(2);
      expect(object.spec.maxReplicaCount).toBeGreaterThanOrEqual(object.spec.minReplicaCount);
      expect(object.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
      rules.push(`      - record: keda:${name.replace(/-/g, '_')}:query\n        expr: '${query}'`);
      for (const cron of object.spec.triggers.filter((trigger: { type: string }) => trigger.type === 'cron')) {
        for (const field of ['start', 'end']) expect(cron.metadata[field].split(' ')).toHaveLength(5);
        expect(Number(cron.metadata.desiredReplicas)).toBeLessThanOrEqual(object.spec.maxReplicaCount);
      }
    }
    // promtool parses each query as Prometheus would (an unbalanced brace or a bad matcher fails here, not at 3 a.m.).
    const file = join(mkdtempSync(join(tmpdir(), 'tessera-keda-')), 'queries.yaml');
    writeFileSync(file, `groups:\n  - name: keda\n    rules:\n${rules.join('\n')}\n`);
    expect(execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })).toContain('SUCCESS');
  });
});
