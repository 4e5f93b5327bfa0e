import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EventCodec, ServiceInfrastructure } from '#cqrs';
import type { JsonObject, RecordedEvent } from '#eventstore';
import { blindIndex } from '#personal-data';
import { ProblemError } from '#platform';
import {
  EXPORT_SERVICES,
  ExportDiscarded,
  ExportRequested,
  exportIdentitiesOf,
  exportStreamFor,
  exportSubject,
  type ErasureIdentities,
  type ExportIdentities,
  type ExportService,
} from '#contracts';
import { ErasureRequests, type ErasureTarget } from '../erasure/erasure-requests';
import { Clock, EVENT_STORE, PersonalDataEraser, type EventStore, type TenantRef } from '../register.ports';

/** How long a download link lasts once the last section is ready (EXPORT_LINK_TTL_MS). */
export const EXPORT_SETTINGS = Symbol('ExportSettings');
export interface ExportSettings {
  readonly linkTtlMs: number;
  /** How often discardExpired runs; the default when absent. */
  readonly sweepIntervalMs?: number;
  /** Exports a tenant may have open at once (EXPORT_MAX_OPEN_PER_TENANT); the default when absent. */
  readonly maxOpenPerTenant?: number;
  /** Where register fetches each other service's section (their internal address). */
  readonly sectionUrls: Readonly<Partial<Record<ExportService, string>>>;
}

export interface ExportStatus {
  readonly id: string;
  readonly requestedAt: string;
  readonly requestedBy: 'user' | 'tenant';
  /** pending until every section is ready; expired once the link's time is past; discarded when the person was erased. */
  readonly status: 'pending' | 'ready' | 'expired' | 'discarded';
  readonly services: Record<ExportService, { status: 'pending' } | { status: 'ready'; readyAt: string }>;
  /** When the download link stops working: the last section's readiness plus the link's lifetime. */
  readonly expiresAt: string | null;
}

/** Exports a tenant may have open at once when EXPORT_MAX_OPEN_PER_TENANT is not set. */
const DEFAULT_MAX_OPEN = 200;
// Exports examined per sweep; an export still pending past its link's lifetime is looked at again next time.
const EXPIRY_PAGE = 500;

/**
 * Exports as a resource, as erasures are: the request is an event on its own stream, sealed under
 * the export's own key (see exportSubject), each service appends "my section is ready" next to it,
 * and the status is folded from that stream. Register also notes, by blind index only, whom each
 * export is about, so that erasing them discards it.
 */
@Injectable()
export class ExportRequests {
  constructor(
    private readonly erasures: ErasureRequests,
    private readonly codec: EventCodec,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly dataSource: DataSource,
    private readonly eraser: PersonalDataEraser,
    private readonly clock: Clock,
    @Inject(EXPORT_SETTINGS) private readonly settings: ExportSettings,
    private readonly infrastructure: ServiceInfrastructure,
  ) {}

  async request(tenant: TenantRef, target: ErasureTarget, requestedBy: 'user' | 'tenant', correlationId: string): Promise<string> {
    const identities = await this.erasures.identitiesOf(tenant.tenantId, target);
    const id = randomUUID();
    const now = this.clock.now();
    const emails = target.email === undefined ? [] : [target.email];
    const limit = this.settings.maxOpenPerTenant ?? DEFAULT_MAX_OPEN;
    // Noted before the request exists: an erasure arriving meanwhile finds it (and its key, once created, is destroyed).
    // Counted and noted under the tenant's lock, so that concurrent requests cannot pass the limit together.
    const open = await this.dataSource.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('register.exports:' || $1, 0))", [tenant.tenantId]);
      const [{ n }] = await tx.query('SELECT count(*)::int AS n FROM register_exports WHERE tenant_id = $1', [tenant.tenantId]);
      if (n >= limit) return n;
      await tx.query('INSERT INTO register_exports (tenant_id, export_id, identity_digests, requested_at) VALUES ($1, $2, $3, $4)', [
        tenant.tenantId,
        id,
        this.digestsOf(tenant.tenantId, identities),
        now,
      ]);
      return undefined;
    });
    if (open !== undefined)
      throw new ProblemError({
        status: 429,
        type: 'too-many-open-exports',
        title: 'Too many open exports for this tenant',
        detail: `this tenant has ${open} exports open (at most ${limit}); each ends when its link expires or it is discarded`,
        headers: { 'Retry-After': String(Math.max(1, Math.ceil((this.settings.sweepIntervalMs ?? 300_000) / 1000))) },
      });
    const event = await this.codec.encode(
      ExportRequested({ exportId: id, requestedBy, requestedAt: now.toISOString(), ...identities, emails }),
      { tenantId: tenant.tenantId, correlationId, now },
    );
    await this.store.appendToStream(exportStreamFor(tenant.tenantId, id), [event], { expectedRevision: 'no_stream' });
    return id;
  }

  /** The request's status and whom it is about (undefined once its key is gone), or undefined when the tenant has no such export. */
  async find(tenantId: string, id: string): Promise<{ status: ExportStatus; identities?: ExportIdentities } | undefined> {
    const recorded = await this.store.readStream(exportStreamFor(tenantId, id));
    const status = exportStatusOf(id, recorded, this.clock.now(), this.settings.linkTtlMs);
    if (!status) return undefined;
    const request = await this.codec.decode(recorded[0]!);
    const identities = request.erased ? undefined : exportIdentitiesOf(request.event.data as JsonObject);
    return { status, identities };
  }

  /** Ends the export: its key is destroyed (every section unreadable at once) and the services delete their parts. */
  async discard(tenantId: string, id: string, reason: 'expired' | 'erased', correlationId: string): Promise<void> {
    await this.eraser.forget(tenantId, exportSubject(id));
    const now = this.clock.now();
    const event = await this.codec.encode(ExportDiscarded({ exportId: id, reason, at: now.toISOString() }), {
      tenantId,
      correlationId,
      now,
    });
    await this.store.appendToStream(exportStreamFor(tenantId, id), [event]);
    await this.dataSource.query('DELETE FROM register_exports WHERE tenant_id = $1 AND export_id = $2', [tenantId, id]);
  }

  /**
   * Destroys exports whose link expired though nobody came back for them (a download or a status
   * read after expiry destroys it too): an export's parts outlive its link by at most one sweep.
   * Only exports requested longer than the link's lifetime ago can have expired; the oldest first,
   * a bounded page per run. Replicas may sweep together: a second discard changes nothing.
   */
  async discardExpired(correlationId: string): Promise<number> {
    const oldEnough = new Date(this.clock.now().getTime() - this.settings.linkTtlMs);
    const rows: { tenant_id: string; export_id: string }[] = await this.dataSource.query(
      `SELECT tenant_id::text, export_id::text FROM register_exports WHERE requested_at < $1 ORDER BY requested_at LIMIT ${EXPIRY_PAGE}`,
      [oldEnough],
    );
    let discarded = 0;
    for (const { tenant_id: tenantId, export_id: id } of rows) {
      const found = await this.find(tenantId, id);
      if (found?.status.status !== 'expired') continue;
      await this.discard(tenantId, id, 'expired', correlationId);
      discarded += 1;
    }
    return discarded;
  }

  /** Register's part of an erasure: every export about any of the identities is discarded. */
  async discardExportsOf(tenantId: string, identities: ErasureIdentities, correlationId: string): Promise<void> {
    const rows: { export_id: string }[] = await this.dataSource.query(
      'SELECT export_id::text FROM register_exports WHERE tenant_id = $1 AND identity_digests && $2::text[]',
      [tenantId, this.digestsOf(tenantId, identities)],
    );
    for (const { export_id } of rows) await this.discard(tenantId, export_id, 'erased', correlationId);
  }

  private digestsOf(tenantId: string, identities: ErasureIdentities): string[] {
    const digest = (kind: string, value: string) =>
      blindIndex(this.infrastructure.blindIndexKey, tenantId, 'export-identity', `${kind}:${value}`);
    return [
      ...identities.userIds.map((id) => digest('userId', id)),
      ...identities.anonymousIds.map((id) => digest('anonymousId', id)),
      ...identities.emailIndexes.map((index) => digest('email', index)),
    ];
  }
}

/** Folds an export's stream into its status; only the fields in clear are read. */
export function exportStatusOf(id: string, recorded: readonly RecordedEvent[], now: Date, linkTtlMs: number): ExportStatus | undefined {
  const request = recorded.find((event) => event.type === 'ExportRequested');
  if (!request) return undefined;
  const ready = new Map<string, string>();
  let discarded: string | undefined;
  for (const event of recorded) {
    if (event.type === 'ExportDiscarded') discarded ??= String((event.data as { reason: string }).reason);
    if (event.type !== 'ExportSectionReady') continue;
    const { service, readyAt } = event.data as { service: string; readyAt: string };
    if (!ready.has(service)) ready.set(service, readyAt);
  }
  const services = Object.fromEntries(
    EXPORT_SERVICES.map((service) => {
      const at = ready.get(service);
      return [service, at ? { status: 'ready' as const, readyAt: at } : { status: 'pending' as const }];
    }),
  ) as ExportStatus['services'];
  const allReady = EXPORT_SERVICES.every((service) => ready.has(service));
  const lastReady = allReady
    ? EXPORT_SERVICES.map((service) => ready.get(service)!)
        .sort()
        .at(-1)!
    : undefined;
  const expiresAt = lastReady ? new Date(Date.parse(lastReady) + linkTtlMs) : undefined;
  const data = request.data as { requestedAt: string; requestedBy: 'user' | 'tenant' };
  const status: ExportStatus['status'] =
    discarded === 'erased'
      ? 'discarded'
      : discarded === 'expired' || (expiresAt && now.getTime() > expiresAt.getTime())
        ? 'expired'
        : allReady
          ? 'ready'
          : 'pending';
  return {
    id,
    requestedAt: data.requestedAt,
    requestedBy: data.requestedBy,
    status,
    services,
    expiresAt: expiresAt?.toISOString() ?? null,
  };
}
