import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import type { PoolClient } from 'pg';
import { trackingStreamFor } from '#contracts';
import { eventually } from '../../apps/pulse/test/pulse-harness';
import { startFourServices, type FourServices, type ProcessName } from '../support/four-services';
import { prepareHonestTenant, signIn, signUpPerson, type HonestTenant } from '../support/noisy-tenants';
import { allRules, dashboardQueries, metricNamesIn, ruleFiles, withGrafanaVariables, type Rule } from '../support/observability';
import { startPrometheus, type PrometheusServer } from '../support/prometheus-server';
import { STRONG_PASSWORD } from '../support/register-harness';

/**
 * The alerts, recording rules and dashboards against a real Prometheus scraping the real services:
 * the four services (pulse as ingest and projector) run as processes on one database, Prometheus
 * scrapes each /metrics every second under the job names the ServiceMonitors give them and
 * evaluates the rule files every second. After a little real traffic (a tenant, sign-ups, a
 * token, a sign-in, tracking, a message consent refuses, profile and balance reads, an event no
 * reader can decode), every metric any query reads must be in Prometheus, every query must run,
 * every panel and recording rule must get data back; and a projection stalled on its locked
 * checkpoint table must fire TesseraProjectionLagHigh, which resolves once the lock goes.
 */

jest.setTimeout(300_000);

/** Metrics other exporters supply, named as such: no Tessera process exports them. */
const EXTERNAL: Record<string, string> = {
  certmanager_certificate_expiration_timestamp_seconds: 'cert-manager',
};
/** Panels that show nothing in a healthy run, and why. */
const EMPTY_WHEN_HEALTHY: Record<string, string> = {
  '5xx answers per second by route': 'no request failed',
  'Certificate days left (cert-manager)': 'cert-manager is not running here',
  'Tessera / login: Events parked (last hour)': "the undecodable event is on a tracking stream, which login's projections do not follow",
  'Tessera / register: Events parked (last hour)':
    "the undecodable event is on a tracking stream, which register's projections do not follow",
};
const PROCESSES: readonly ProcessName[] = ['login', 'register', 'pulse', 'pulse-projector', 'rewards', 'rewards-projector'];
/** The lag alert's threshold in the shipped rule, and the short one the test evaluates the same expression with. */
const SHIPPED_LAG_THRESHOLD = '> 30';
const TEST_LAG_THRESHOLD = '> 2';

interface Sample {
  metric: Record<string, string>;
}
interface ActiveAlert {
  labels: Record<string, string>;
  state: string;
}

describe('alerts, recording rules and dashboards against a real Prometheus scraping the four services', () => {
  let four: FourServices;
  let prometheus: PrometheusServer;
  let honest: HonestTenant;
  let scratch: string;
  let lock: PoolClient | undefined;
  const startedAt = Date.now();

  beforeAll(async () => {
    // One sign-up per address makes the second attempt below a refusal, which register counts.
    four = await startFourServices({}, { register: { REGISTER_SIGNUPS_PER_EMAIL: '1' } });
    scratch = mkdtempSync(join(tmpdir(), 'tessera-live-rules-'));
    prometheus = await startPrometheus(
      PROCESSES.map((job) => ({ job, target: new URL(four.services[job].url).host })),
      [...ruleFiles(), lagRuleForTheTest(scratch)],
    );
    honest = await prepareHonestTenant(four);
    await sendTraffic(four, honest);
  });
  afterAll(async () => {
    lock?.release();
    await prometheus?.close();
    await four?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    process.stdout.write(`live Prometheus test: ${Math.round((Date.now() - startedAt) / 1000)} s\n`);
  });

  test('Prometheus scrapes every process under the job name the rules use', async () => {
    await eventually(
      async () => {
        const { activeTargets } = await prometheus.api<{ activeTargets: { labels: { job: string }; health: string }[] }>('targets');
        return PROCESSES.every((job) => activeTargets.some((target) => target.labels.job === job && target.health === 'up'));
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  });

  test('every metric an alert, a recording rule or a dashboard reads is exported by a service (or is a named external one)', async () => {
    const needed = [...new Set(queries().flatMap(({ expr }) => exportedNamesIn(expr)))].sort();
    expect(needed).toEqual(
      expect.arrayContaining(['http_server_request_duration_seconds_bucket', 'tessera_projection_events_parked_total']),
    );
    const external = needed.filter((name) => name in EXTERNAL);
    expect(external.sort()).toEqual(Object.keys(EXTERNAL).sort());
    let missing: string[] = [];
    await eventually(
      async () => {
        missing = [];
        for (const name of needed.filter((candidate) => !(candidate in EXTERNAL))) {
          const series = await prometheus.api<unknown[]>('series', { 'match[]': `{__name__="${name}"}`, start: String(startedAt / 1000) });
          if (series.length === 0) missing.push(name);
        }
        return missing.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    ).catch(() => undefined);
    expect(missing).toEqual([]);
    // And they come from Tessera's processes, not from Prometheus's own scrape bookkeeping.
    for (const name of needed.filter((candidate) => !(candidate in EXTERNAL) && candidate !== 'up')) {
      const series = await prometheus.api<Record<string, string>[]>('series', { 'match[]': `{__name__="${name}"}` });
      expect({ name, jobs: series.every((labels) => PROCESSES.includes(labels.job as ProcessName)) }).toEqual({ name, jobs: true });
    }
  });

  test('every query runs; every dashboard panel and every recording rule gets data back', async () => {
    for (const { where, expr } of queries()) {
      await expect(prometheus.api('query', { query: expr }).then(() => where)).resolves.toBe(where);
    }
    const recorded = allRules().filter((rule): rule is Rule & { record: string } => rule.record !== undefined);
    const selectors = [
      ...dashboardQueries()
        .filter(({ dashboard, panel }) => !(panel in EMPTY_WHEN_HEALTHY) && !(`${dashboard}: ${panel}` in EMPTY_WHEN_HEALTHY))
        .map(({ dashboard, panel, expr }) => ({ where: `${dashboard}: ${panel}`, expr: withGrafanaVariables(expr, '1m') })),
      ...recorded.map((rule) => ({ where: `recording rule ${rule.record} ${JSON.stringify(rule.labels ?? {})}`, expr: selectorOf(rule) })),
    ];
    let empty: string[] = [];
    await eventually(
      async () => {
        empty = [];
        for (const { where, expr } of selectors) {
          const { result } = await prometheus.api<{ result: Sample[] }>('query', { query: expr });
          if (result.length === 0) empty.push(where);
        }
        return empty.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    ).catch(() => undefined);
    expect(empty).toEqual([]);
  });

  test('a projection stalled on its locked checkpoint table fires TesseraProjectionLagHigh, which resolves once the lock goes', async () => {
    const firing = async () => {
      const { alerts } = await prometheus.api<{ alerts: ActiveAlert[] }>('alerts');
      return alerts.filter(
        (alert) =>
          alert.labels.alertname === 'TesseraProjectionLagHigh' && alert.labels.projection === 'pulse.profiles' && alert.state === 'firing',
      );
    };
    // Not firing before the stall (a busy machine may have put the projector 2 s behind during set-up).
    await eventually(async () => (await firing()).length === 0, { timeoutMs: 60_000, intervalMs: 1000 });
    // Every projection's next batch moves its checkpoint row first: it waits on this lock, with the
    // batch received (so its age shows as behind). A table lock, not SELECT ... FOR UPDATE: a row
    // lock takes a transaction id, and the event store delivers nothing past the oldest running
    // one, so the projector would not even receive the event (and would report 0 s behind).
    lock = await four.pool.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE projection_checkpoints IN EXCLUSIVE MODE');
    expect((await lock.query('SELECT pg_current_xact_id_if_assigned() AS xid')).rows[0].xid).toBeNull();
    expect((await track(four, honest, `stalled-${randomUUID()}`)).status).toBe(200);
    await eventually(async () => (await firing()).length === 1, { timeoutMs: 60_000, intervalMs: 1000 }).catch(async (error: unknown) => {
      // What Prometheus saw instead, for the failure's story.
      const behind = await prometheus.api('query', { query: 'tessera_projection_behind_seconds' });
      const alerts = await prometheus.api('alerts');
      const rules = await prometheus.api<{ groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] }>(
        'rules',
      );
      const lagRules = rules.groups.flatMap((group) => group.rules.filter((rule) => rule.name === 'TesseraProjectionLagHigh'));
      throw new Error(
        `${String(error)}\nbehind: ${JSON.stringify(behind)}\nalerts: ${JSON.stringify(alerts)}\nrules: ${JSON.stringify(lagRules)}`,
      );
    });
    expect((await firing())[0]!.labels).toMatchObject({ job: 'pulse-projector', service: 'pulse', severity: 'warning' });

    await lock.query('ROLLBACK');
    lock.release();
    lock = undefined;
    await eventually(async () => (await firing()).length === 0, { timeoutMs: 60_000, intervalMs: 1000 });
  });
});

/** Every rule expression and every dashboard query, Grafana's variables filled in. */
function queries(): { where: string; expr: string }[] {
  return [
    ...allRules().map((rule) => ({ where: rule.alert ?? rule.record!, expr: rule.expr })),
    ...dashboardQueries().map(({ dashboard, panel, expr }) => ({
      where: `${dashboard}: ${panel}`,
      expr: withGrafanaVariables(expr, '1m'),
    })),
  ];
}

/** The metric names a query reads, recording rules replaced by what they read in turn. */
function exportedNamesIn(expr: string, seen = new Set<string>()): string[] {
  const records = new Map<string, Rule[]>();
  for (const rule of allRules()) if (rule.record) records.set(rule.record, [...(records.get(rule.record) ?? []), rule]);
  return metricNamesIn(expr).flatMap((name) => {
    if (!records.has(name)) return [name];
    if (seen.has(name)) return [];
    seen.add(name);
    return records.get(name)!.flatMap((rule) => exportedNamesIn(rule.expr, seen));
  });
}

/** The series one recording rule writes: its name and the labels it adds. */
function selectorOf(rule: Rule & { record: string }): string {
  const labels = Object.entries(rule.labels ?? {}).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return `${rule.record}{${labels.join(',')}}`;
}

/** The shipped lag alert, same expression, a threshold of 2 s and no wait: a stall shows within seconds. */
function lagRuleForTheTest(directory: string): string {
  const shipped = allRules().find((rule) => rule.alert === 'TesseraProjectionLagHigh')!;
  expect(shipped.expr.trim().endsWith(SHIPPED_LAG_THRESHOLD)).toBe(true);
  const expr = `${shipped.expr.trim().slice(0, -SHIPPED_LAG_THRESHOLD.length)}${TEST_LAG_THRESHOLD}`;
  const file = join(directory, 'projection-lag-for-the-test.yaml');
  const rule = { ...shipped, expr, for: '1s' };
  writeFileSync(file, JSON.stringify({ groups: [{ name: 'tessera-projections-test-threshold', rules: [rule] }] }));
  return file;
}

/** A track call with the tenant's server key: an order by `userId`, or the message given. */
function track(four: FourServices, honest: HonestTenant, message: string | object): Promise<Response> {
  const body =
    typeof message === 'string' ? { userId: message, event: 'Order Completed', properties: { total: 5, currency: 'EUR' } } : message;
  return fetch(`${four.services.pulse.url}/v1/track`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${honest.serverKey}:`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A little of everything the rules and dashboards watch, through the services' public APIs. */
async function sendTraffic(four: FourServices, honest: HonestTenant): Promise<void> {
  const email = `watched-${randomUUID()}@example.com`;
  await signUpPerson(four, honest.slug, honest.id, email);
  const again = await fetch(`${four.services.register.url}/t/${honest.slug}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: STRONG_PASSWORD }),
  });
  expect(again.status).toBe(429);
  expect((await oidc.clientCredentialsGrant(honest.service)).access_token).toEqual(expect.any(String));
  expect(await signIn(honest.app, honest.slug, email)).toEqual(expect.any(String));
  expect((await track(four, honest, 'b-member-1')).status).toBe(200);
  const profile = `${four.services.pulse.url}/t/${honest.slug}/profiles/userId/b-member-1`;
  await eventually(async () => (await fetch(profile, { headers: { authorization: `Bearer ${honest.apiKey}` } })).status === 200);
  // A visitor whose consent manager refuses marketing: acknowledged, not stored, counted. Ingest
  // learns the tenant's purposes from its own events, so the first messages may still be stored.
  const bearer = { authorization: `Bearer ${honest.apiKey}`, 'content-type': 'application/json' };
  const purposes = { rules: [{ purpose: 'marketing', events: ['Ad Clicked'] }] };
  const set = await fetch(`${four.services.pulse.url}/t/${honest.slug}/tracking-purposes`, {
    method: 'PUT',
    headers: bearer,
    body: JSON.stringify(purposes),
  });
  expect(set.status).toBe(200);
  await eventually(
    async () => {
      const refused = {
        anonymousId: `visitor-${randomUUID()}`,
        event: 'Ad Clicked',
        context: { consent: { categoryPreferences: { marketing: false } } },
      };
      expect((await track(four, honest, refused)).status).toBe(200);
      return (await (await fetch(`${four.services.pulse.url}/metrics`)).text()).includes('tessera_tracking_messages_suppressed_total{');
    },
    { timeoutMs: 10_000, intervalMs: 200 },
  );
  // What a faulty writer could leave in the log: metadata without a tenant. The projections that
  // follow tracking streams set it aside (parked, reason undecodable) and move on.
  await four.pool.query('SELECT * FROM es_append_any($1, $2::jsonb)', [
    trackingStreamFor(honest.id, 0),
    JSON.stringify([{ id: randomUUID(), type: 'MessageReceived', data: {}, metadata: {} }]),
  ]);
}
