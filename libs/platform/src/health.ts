import { Controller, Get, Inject, Res } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Counter, Gauge } from 'prom-client';
import { SERVICE_LOGGER } from './logging';
import { MetricsRegistry } from './metrics';
import { ServiceLifecycle } from './shutdown';

export interface ReadinessResult {
  readonly ok: boolean;
  /** Shown on /health/ready: operational facts only (lag, pool size), never credentials or hostnames with passwords. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** A dependency this replica needs before it should receive traffic (event store, database, projections). */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<ReadinessResult>;
}

/** The checks /health/ready aggregates; services and libraries register theirs during module init. */
export class ReadinessChecks {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(check: ReadinessCheck): void {
    if (check.name === lifecycleIndicator) throw new Error(`"${lifecycleIndicator}" is reserved for the platform's own readiness`);
    if (this.checks.has(check.name)) throw new Error(`readiness check "${check.name}" is registered twice`);
    this.checks.set(check.name, check);
  }

  all(): readonly ReadinessCheck[] {
    return [...this.checks.values()];
  }
}

export const READINESS_CHECK_TIMEOUT_MS = Symbol('tessera.platform.readiness-timeout');

const lifecycleIndicator = 'lifecycle';

type Verdict = { ok: true; detail: Record<string, unknown> } | { ok: false; detail: Record<string, unknown>; error?: unknown };

/**
 * What the probes saw, for alerts: the kubelet acts on readiness but keeps no history of it, so a
 * replica that keeps leaving and rejoining the rotation, or a database every check finds
 * unreachable, would otherwise show only as scattered log lines.
 */
class ReadinessMetrics {
  readonly ready: Gauge;
  /** Counted here, not sampled by the scrape: a flap between two scrapes still counts. */
  readonly changes: Counter;
  readonly checkUp: Gauge<'check'>;
  private last: boolean | undefined;

  constructor(metrics: MetricsRegistry) {
    this.ready = metrics.gauge({ name: 'tessera_ready', help: 'Whether the last readiness probe answered 200 (1) or 503 (0)' });
    this.changes = metrics.counter({
      name: 'tessera_readiness_changes_total',
      help: 'Times the readiness verdict changed from ready to not ready or back',
    });
    this.checkUp = metrics.gauge({
      name: 'tessera_readiness_check_up',
      help: 'Whether a readiness check (eventstore, postgres, projections, ...) passed at the last probe',
      labelNames: ['check'],
    });
  }

  probed(ok: boolean): void {
    this.ready.set(ok ? 1 : 0);
    if (this.last !== undefined && this.last !== ok) this.changes.inc();
    this.last = ok;
  }
}

@Controller('health')
export class HealthController {
  /** Last verdict per check, so a failing dependency is logged when it changes, not on every probe. */
  private readonly lastOk = new Map<string, boolean>();
  private readonly readinessMetrics: ReadinessMetrics;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly checks: ReadinessChecks,
    private readonly lifecycle: ServiceLifecycle,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(READINESS_CHECK_TIMEOUT_MS) private readonly checkTimeoutMs: number,
    metrics: MetricsRegistry,
  ) {
    this.readinessMetrics = new ReadinessMetrics(metrics);
  }

  /** Only says the process answers HTTP: failing dependencies must not get the pod restarted. */
  @Get('live')
  live(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    return this.respond(reply, []);
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const body = await (this.lifecycle.draining
      ? // Dependencies are beside the point now: this replica is leaving the rotation.
        this.respond(reply, [() => this.indicators.check(lifecycleIndicator).down({ state: 'draining' })])
      : this.respond(reply, [
          () => this.indicators.check(lifecycleIndicator).up({ state: 'serving' }),
          ...this.checks.all().map((check) => () => this.run(check)),
        ]));
    this.readinessMetrics.probed(reply.statusCode === 200);
    return body;
  }

  private async respond(
    reply: FastifyReply,
    indicators: Array<() => Promise<HealthIndicatorResult> | HealthIndicatorResult>,
  ): Promise<unknown> {
    reply.header('cache-control', 'no-store');
    try {
      return await this.health.check(indicators);
    } catch (error) {
      // Terminus reports failure as a 503 exception carrying the usual health body; probes and
      // operators expect that body, not the problem+json the global filter would make of it.
      const body = (error as { getResponse?: () => unknown }).getResponse?.();
      if (body === undefined) throw error;
      reply.status(503);
      return body;
    }
  }

  private async run(check: ReadinessCheck): Promise<HealthIndicatorResult> {
    const verdict = await this.verdictOf(check);
    this.noteTransition(check.name, verdict);
    this.readinessMetrics.checkUp.set({ check: check.name }, verdict.ok ? 1 : 0);
    const session = this.indicators.check(check.name);
    return verdict.ok ? session.up(verdict.detail) : session.down(verdict.detail);
  }

  private async verdictOf(check: ReadinessCheck): Promise<Verdict> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Verdict>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, detail: { reason: 'timed out' } }), this.checkTimeoutMs);
    });
    const attempt = check.check().then(
      (result): Verdict => ({ ok: result.ok, detail: withoutReservedKeys(result.detail) }),
      // The error's message may name hosts or users; it goes to the log, not to the probe's body.
      (error: unknown): Verdict => ({ ok: false, detail: { reason: 'check failed' }, error }),
    );
    try {
      return await Promise.race([attempt, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private noteTransition(name: string, verdict: Verdict): void {
    const previous = this.lastOk.get(name);
    this.lastOk.set(name, verdict.ok);
    if (previous === verdict.ok || (previous === undefined && verdict.ok)) return;
    if (verdict.ok) this.logger.info({ check: name }, 'readiness check recovered');
    else
      this.logger.warn(
        { check: name, detail: verdict.detail, err: 'error' in verdict ? verdict.error : undefined },
        'readiness check failing',
      );
  }
}

/** Terminus owns `status` in each indicator's entry. */
function withoutReservedKeys(detail: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const { status: _status, ...rest } = detail ?? {};
  return rest;
}
