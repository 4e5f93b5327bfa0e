import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseYamlDocuments } from './yaml';

/**
 * What k8s/components/observability holds, read the way Prometheus and Grafana read it: the rule
 * files (the one source of the alert and recording rules), the PrometheusRule made from them, the
 * promtool unit tests and the dashboards' queries.
 */

export const observabilityDir = resolve(__dirname, '../../k8s/components/observability');
export const rulesDir = join(observabilityDir, 'rules');
export const ruleTestsDir = join(observabilityDir, 'tests');
export const dashboardsDir = join(observabilityDir, 'dashboards');
export const prometheusRuleFile = join(observabilityDir, 'prometheus-rule.yaml');

export interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

const yamlFiles = (directory: string) =>
  readdirSync(directory)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => join(directory, file));

export const ruleFiles = (): string[] => yamlFiles(rulesDir);
export const ruleTestFiles = (): string[] => yamlFiles(ruleTestsDir);

export function ruleGroupsOf(file: string): RuleGroup[] {
  const [document] = parseYamlDocuments(readFileSync(file, 'utf8')) as [{ groups: RuleGroup[] }];
  return document.groups;
}

export const allRules = (): Rule[] => ruleFiles().flatMap((file) => ruleGroupsOf(file).flatMap((group) => group.rules));

/** The PrometheusRule the component ships: every group of every rule file, in file order. */
export function prometheusRuleFromRuleFiles(): object {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'tessera' },
    spec: { groups: ruleFiles().flatMap(ruleGroupsOf) },
  };
}

/** The committed prometheus-rule.yaml, text for writing it again: a header that says where it comes from, then the object. */
export function renderPrometheusRule(): string {
  const jsYaml = createRequire(__filename)('js-yaml') as { safeDump?: Dump; dump: Dump };
  const dump = jsYaml.safeDump ?? jsYaml.dump;
  return (
    '# GENERATED from rules/*.yaml, the one source of these rules (promtool checks and tests those files).\n' +
    '# Do not edit: change a rule file, then run\n' +
    '#   UPDATE_PROMETHEUS_RULE=1 npx jest test/observability/rules.spec.ts\n' +
    dump(prometheusRuleFromRuleFiles(), { lineWidth: 200, noRefs: true })
  );
}
type Dump = (value: unknown, options?: object) => string;

export interface DashboardQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly expr: string;
}

export function dashboardFiles(): string[] {
  return readdirSync(dashboardsDir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => join(dashboardsDir, file));
}

/** Every query of every panel, and of the template variables, as Grafana would send it. */
export function dashboardQueries(): DashboardQuery[] {
  return dashboardFiles().flatMap((file) => {
    const dashboard = JSON.parse(readFileSync(file, 'utf8')) as {
      title: string;
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; type: string; query: string }[] };
    };
    const panels = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({ dashboard: dashboard.title, panel: panel.title, expr: target.expr })),
    );
    const variables = dashboard.templating.list
      .filter((variable) => variable.type === 'query')
      .map((variable) => ({ dashboard: dashboard.title, panel: `$${variable.name}`, expr: labelValuesMetric(variable.query) }));
    return [...panels, ...variables];
  });
}

/** `label_values(metric, label)` is Grafana's, not PromQL: what it needs from Prometheus is the metric. */
function labelValuesMetric(query: string): string {
  const match = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_]+\s*\)$/.exec(query);
  if (!match) throw new Error(`a template variable query this test does not know how to run: ${query}`);
  return match[1]!;
}

/** The Grafana variables the dashboards use, with the values a test substitutes. */
export function withGrafanaVariables(expr: string, rateInterval: string): string {
  const substituted = expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$namespace', '.*');
  if (substituted.includes('$')) throw new Error(`a Grafana variable this test does not substitute, in: ${expr}`);
  return substituted;
}

const notMetrics = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads: identifiers that are neither functions (followed
 * by a parenthesis), keywords, label lists of by/without/on/ignoring/group_*, label matchers in
 * braces, strings, durations nor numbers.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?!\w)(\s*\()?/g)) {
    const [, name, call] = match;
    if (call || notMetrics.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names].sort();
}

/** A tool the observability tests need on PATH; absent, the test fails (CI installs Debian's prometheus package). */
export function toolOnPath(tool: 'promtool' | 'prometheus'): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
  } catch (error) {
    throw new Error(`${tool} is not on PATH: install Debian's prometheus package (apt-get install prometheus), as .ci/run does`, {
      cause: error,
    });
  }
}
