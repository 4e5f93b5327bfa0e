import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  allRules,
  metricNamesIn,
  prometheusRuleFile,
  prometheusRuleFromRuleFiles,
  renderPrometheusRule,
  ruleFiles,
  ruleTestFiles,
  toolOnPath,
} from '../support/observability';
import { parseYamlDocuments } from '../support/yaml';

/**
 * The alert and recording rules of k8s/components/observability, checked by Prometheus's own
 * promtool: they load, and their unit tests (tests/*.yaml: input series shaped like incidents)
 * pass. Every alert must have a case where it fires and a later one where it has resolved, so an
 * alert added without a test fails here; and the PrometheusRule the component ships is exactly
 * the rule files.
 */

const runbooks = readFileSync(resolve(__dirname, '../../docs/runbooks.md'), 'utf8');

interface AlertCase {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts?: readonly unknown[];
}
interface RuleTestFile {
  readonly rule_files: readonly string[];
  readonly tests: readonly { name: string; alert_rule_test?: readonly AlertCase[] }[];
}

const testFileOf = (file: string) => (parseYamlDocuments(readFileSync(file, 'utf8')) as [RuleTestFile])[0];
/** promtool durations as the tests write them (1m, 4h, 90s): in seconds, to order cases in time. */
const seconds = (duration: string) => {
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  const match = /^(\d+)([smhd])$/.exec(duration);
  if (!match) throw new Error(`a duration this test does not read: ${duration}`);
  return Number(match[1]) * units[match[2]!]!;
};

describe('Prometheus rules', () => {
  let promtool: string;
  beforeAll(() => {
    promtool = toolOnPath('promtool');
  });

  test('promtool check rules accepts every rule file', () => {
    expect(ruleFiles().length).toBeGreaterThanOrEqual(4);
    const result = spawnSync(promtool, ['check', 'rules', ...ruleFiles()], { encoding: 'utf8' });
    expect({ status: result.status, output: result.stdout + result.stderr }).toMatchObject({ status: 0 });
    for (const file of ruleFiles()) expect(result.stdout).toContain(`Checking ${file}`);
  });

  test('promtool test rules passes every unit-test file', () => {
    for (const file of ruleTestFiles()) {
      const result = spawnSync(promtool, ['test', 'rules', file], { encoding: 'utf8' });
      expect({ file, status: result.status, output: result.stdout + result.stderr }).toMatchObject({ file, status: 0 });
    }
  });

  test('promtool test rules fails a case whose alert does not fire (the unit tests can fail)', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'tessera-promtool-'));
    try {
      const file = join(scratch, 'never-fires.yaml');
      const rules = ruleFiles().find((path) => path.endsWith('projections.yaml'))!;
      const series = 'tessera_projection_behind_seconds{job="login",service="login",projection="login.credentials"}';
      writeFileSync(
        file,
        [
          `rule_files: [${JSON.stringify(rules)}]`,
          'tests:',
          '  - interval: 1m',
          `    input_series: [{ series: '${series}', values: '0x20' }]`,
          '    alert_rule_test:',
          '      - { eval_time: 10m, alertname: TesseraProjectionLagHigh, exp_alerts: [{ exp_labels: { severity: warning } }] }',
          '',
        ].join('\n'),
      );
      const result = spawnSync(promtool, ['test', 'rules', file], { encoding: 'utf8' });
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toContain('FAILED');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('every alert has a promtool case where it fires and a later one of the same test where it has resolved', () => {
    const alerts = allRules().flatMap((rule) => (rule.alert ? [rule.alert] : []));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    const fired = new Map<string, number>();
    const resolvedAfterFiring = new Set<string>();
    for (const file of ruleTestFiles()) {
      for (const unit of testFileOf(file).tests) {
        const cases = [...(unit.alert_rule_test ?? [])].sort((a, b) => seconds(a.eval_time) - seconds(b.eval_time));
        const firedHere = new Set<string>();
        for (const alertCase of cases) {
          if ((alertCase.exp_alerts ?? []).length > 0) {
            firedHere.add(alertCase.alertname);
            fired.set(alertCase.alertname, (fired.get(alertCase.alertname) ?? 0) + 1);
          } else if (firedHere.has(alertCase.alertname)) resolvedAfterFiring.add(alertCase.alertname);
        }
      }
    }
    expect(alerts.filter((alert) => !fired.has(alert))).toEqual([]);
    expect(alerts.filter((alert) => !resolvedAfterFiring.has(alert))).toEqual([]);
    // A case for an alert the rules no longer have would pass vacuously (promtool expects no alerts of an unknown name).
    expect([...fired.keys()].filter((alert) => !alerts.includes(alert))).toEqual([]);
  });

  test('every alert has a severity, a summary and a runbook_url whose anchor is in docs/runbooks.md', () => {
    for (const rule of allRules().filter((candidate) => candidate.alert)) {
      expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect(rule.annotations?.summary).toEqual(expect.any(String));
      const anchor = /^https:\/\/[^#]+\/runbooks\.md#([a-z0-9-]+)$/.exec(rule.annotations?.runbook_url ?? '')?.[1];
      expect({ alert: rule.alert, anchor }).toEqual({ alert: rule.alert, anchor: expect.any(String) });
      expect({ alert: rule.alert, inRunbooks: runbooks.includes(`<a id="${anchor}"></a>`) }).toEqual({
        alert: rule.alert,
        inRunbooks: true,
      });
    }
  });

  test('the PrometheusRule the component ships holds exactly the groups of the rule files', () => {
    if (process.env.UPDATE_PROMETHEUS_RULE === '1') writeFileSync(prometheusRuleFile, renderPrometheusRule());
    const [shipped] = parseYamlDocuments(readFileSync(prometheusRuleFile, 'utf8'));
    expect(shipped).toEqual(prometheusRuleFromRuleFiles());
  });

  test('the names of metrics are read from PromQL without functions, keywords, labels or durations', () => {
    expect(
      metricNamesIn(
        'sum by (namespace, le) (rate(http_server_request_duration_seconds_bucket{route=~"/v1/.+",le="0.1"}[5m])) ' +
          '/ on (namespace) group_left() slo:sli_error:ratio_rate1h > (14.4 * 0.001) and up offset 5m',
      ),
    ).toEqual(['http_server_request_duration_seconds_bucket', 'slo:sli_error:ratio_rate1h', 'up']);
    expect(metricNamesIn('certmanager_certificate_expiration_timestamp_seconds{name=~"tessera.*"} - time() < 14 * 86400')).toEqual([
      'certmanager_certificate_expiration_timestamp_seconds',
    ]);
  });
});
