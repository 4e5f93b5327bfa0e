import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager, MigrationInterface } from 'typeorm';
import { appendFromProjection, type BackgroundTask, type EventCodec, type EventEnvelope, type Projection } from '#cqrs';
import type { EventStore, JsonObject } from '#eventstore';
import { SubjectErasedError, type PersonalDataCodec } from '#personal-data';
import {
  EXPORT_STREAM_PREFIX,
  ExportSectionReady,
  exportIdentitiesOf,
  exportStreamFor,
  exportSubject,
  type ExportService,
} from './export.events';
import { PRIVACY_REQUEST_POLL_MS } from './erasure.events';
import { tableMigration, type ExportParts, type SectionGatherer } from './export-parts';

/**
 * The sections a service still has to write: one row per export, whom it is about sealed under
 * the export's key (gone with it), and the lease of the writer at work on it.
 */
export function exportPendingTableDdl(partsTable: string): string {
  return `CREATE TABLE IF NOT EXISTS ${partsTable}_pending (
    tenant_id uuid NOT NULL,
    export_id uuid NOT NULL,
    identities jsonb NOT NULL,
    correlation_id text NOT NULL,
    causation_id uuid NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    not_before timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    lease uuid,
    leased_until timestamptz,
    PRIMARY KEY (tenant_id, export_id)
  )`;
}

/** The migration that creates a service's pending sections (named as its migrations are). */
export function exportPendingMigration(partsTable: string, name: string): new () => MigrationInterface {
  return tableMigration(name, `${partsTable}_pending`, exportPendingTableDdl(partsTable));
}

export interface ExportSectionDeps {
  readonly service: ExportService;
  readonly parts: ExportParts;
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly personalData: PersonalDataCodec;
  /** Where sections are gathered and written, a statement at a time (never one long transaction). */
  readonly dataSource: DataSource;
  readonly gather: SectionGatherer;
  readonly writing?: SectionWriting;
}

export interface SectionWriting {
  /** Sections this process writes at once (each for a different tenant). */
  readonly atOnce: number;
  /** How often the pending table is looked at when nothing woke the writer. */
  readonly pollMs: number;
  /** A writer that neither finishes nor writes a chunk for this long loses its section to another. */
  readonly leaseSeconds: number;
}

const DEFAULT_WRITING: SectionWriting = { atOnce: 2, pollMs: 1000, leaseSeconds: 120 };
/** A failed attempt is tried again after 2^attempts seconds, at most this many. */
const MAX_BACKOFF_SECONDS = 600;

/**
 * A service's part of every export, in two halves so that no tenant's export holds up anyone:
 * - the projection only notes the request (one short row) on ExportRequested and deletes
 *   everything on ExportDiscarded: its transaction is as short as any other's;
 * - the writer gathers the section and writes it a chunk per statement, never inside a
 *   transaction (an open transaction that has written keeps the PostgreSQL event log's readers
 *   of every service below it: a million-event history would stall every tenant), at most one
 *   section per tenant at a time and a few in all, oldest requests first; then, in one short
 *   transaction, it ends its lease and says so (ExportSectionReady).
 * A replay notes again only what is not written yet; a request whose key is gone is skipped.
 */
export function exportSections(deps: ExportSectionDeps): { readonly projection: Projection; readonly writer: ExportSectionWriter } {
  const writer = new ExportSectionWriter(deps);
  return { projection: exportRequestsProjection(deps, () => writer.wake()), writer };
}

function exportRequestsProjection(deps: ExportSectionDeps, wake: () => void): Projection {
  const { parts } = deps;
  let noted = false;
  return {
    name: `${deps.service}.exports`,
    filter: { streamNamePrefixes: [EXPORT_STREAM_PREFIX], eventTypePrefixes: ['ExportRequested', 'ExportDiscarded'] },
    idlePollMs: PRIVACY_REQUEST_POLL_MS,
    maxBatch: 64,
    async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
      for (const envelope of envelopes) {
        const { tenantId } = envelope.metadata;
        const data = envelope.event.data as JsonObject;
        const exportId = String(data.exportId);
        if (envelope.event.type === 'ExportDiscarded') {
          await parts.discard(tx, tenantId, exportId);
          continue;
        }
        const identities = envelope.erased ? undefined : exportIdentitiesOf(data);
        if (!identities || (await parts.has(tx, tenantId, exportId))) continue;
        let sealed;
        try {
          sealed = await deps.personalData.sealValue(tenantId, exportSubject(exportId), { ...identities });
        } catch (error) {
          if (error instanceof SubjectErasedError) continue;
          throw error;
        }
        await tx.query(
          `INSERT INTO ${parts.pendingTable} (tenant_id, export_id, identities, correlation_id, causation_id)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
          [tenantId, exportId, JSON.stringify(sealed), envelope.metadata.correlationId || envelope.id, envelope.id],
        );
        noted = true;
      }
    },
    committed() {
      if (noted) wake();
      noted = false;
    },
    resumed() {
      noted = false;
    },
  };
}

class WriterStopped extends Error {}

interface ClaimedSection {
  readonly tenant_id: string;
  readonly export_id: string;
  readonly identities: JsonObject;
  readonly correlation_id: string;
  readonly causation_id: string;
}

/**
 * Writes the sections the projection noted (see exportSections). Replicas share the work through
 * the pending rows' leases: a claim is one statement, and a tenant with a section being written
 * anywhere waits for it before its next is claimed.
 */
export class ExportSectionWriter implements BackgroundTask {
  private readonly writing: SectionWriting;
  private readonly busy = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private draining?: Promise<void>;
  private again = false;
  private warnTo?: (fields: object, message: string) => void;

  constructor(private readonly deps: ExportSectionDeps) {
    this.writing = deps.writing ?? DEFAULT_WRITING;
  }

  /** Where failures are reported (the service's logger, known once the module is built). */
  reportingTo(warn: (fields: object, message: string) => void): this {
    this.warnTo = warn;
    return this;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.writing.pollMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.draining;
    await Promise.allSettled([...this.busy.values()]);
  }

  /** Looks for sections to write now (after the projection noted one, and on every poll). */
  wake(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.claimWhileFree()
      .catch((error: unknown) => this.warn(error, 'export sections: claiming failed'))
      .finally(() => {
        this.draining = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async claimWhileFree(): Promise<void> {
    while (!this.stopped && this.busy.size < this.writing.atOnce) {
      const claimed = await this.claim();
      if (!claimed) return;
      const work = this.writeSection(claimed.section, claimed.token)
        .catch((error: unknown) => this.warn(error, 'export sections: a section failed; it is tried again later'))
        .finally(() => {
          this.busy.delete(claimed.section.tenant_id);
          this.wake();
        });
      this.busy.set(claimed.section.tenant_id, work);
    }
  }

  /** The oldest pending section of a tenant that has none being written (here or by another replica). */
  private async claim(): Promise<{ section: ClaimedSection; token: string } | undefined> {
    const table = this.deps.parts.pendingTable;
    const token = randomUUID();
    const rows: ClaimedSection[] = await this.deps.dataSource.query(
      `UPDATE ${table} p SET lease = $1, leased_until = now() + make_interval(secs => $2), attempts = p.attempts + 1
        WHERE (p.tenant_id, p.export_id) = (
          SELECT c.tenant_id, c.export_id FROM ${table} c
           WHERE (c.leased_until IS NULL OR c.leased_until < now()) AND c.not_before <= now()
             AND NOT (c.tenant_id = ANY($3::uuid[]))
             AND NOT EXISTS (SELECT 1 FROM ${table} o WHERE o.tenant_id = c.tenant_id AND o.leased_until >= now())
           ORDER BY c.requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING tenant_id::text, export_id::text, identities, correlation_id, causation_id::text`,
      [token, this.writing.leaseSeconds, [...this.busy.keys()]],
    );
    const section = (Array.isArray(rows[0]) ? rows[0][0] : rows[0]) as ClaimedSection | undefined;
    return section ? { section, token } : undefined;
  }

  private async writeSection(section: ClaimedSection, token: string): Promise<void> {
    const { parts, dataSource, personalData } = this.deps;
    const { tenant_id: tenantId, export_id: exportId } = section;
    const opened = await personalData.openValue(tenantId, section.identities);
    const identities = opened.erased ? undefined : exportIdentitiesOf(opened.value as JsonObject);
    // The export's key is gone: nothing to write, ever (the discard that destroyed it is on its way).
    if (!identities) return this.release(section, token, 'never');
    const lease = { token, seconds: this.writing.leaseSeconds };
    try {
      const outcome = await parts.write(
        dataSource.manager,
        tenantId,
        exportId,
        lease,
        this.untilStopped(this.deps.gather(dataSource.manager, tenantId, identities)),
      );
      if (outcome === 'written') await this.finish(section, token);
      else if (outcome === 'erased') await this.release(section, token, 'never');
    } catch (error) {
      if (error instanceof WriterStopped) return this.release(section, token, 'now');
      await this.release(section, token, 'later');
      throw error;
    }
  }

  /** The section's fragments, cut short when the process stops (another replica, or this one restarted, takes it up again). */
  private async *untilStopped(fragments: AsyncIterable<string>): AsyncGenerator<string> {
    for await (const fragment of fragments) {
      if (this.stopped) throw new WriterStopped();
      yield fragment;
    }
  }

  /** The lease ends and ExportSectionReady is appended in one short transaction: both, or neither. */
  private async finish(section: ClaimedSection, token: string): Promise<void> {
    const { tenant_id: tenantId, export_id: exportId } = section;
    const { deps } = this;
    await deps.dataSource.transaction(async (tx) => {
      // Discarded meanwhile, or taken over by another writer after our lease ran out: theirs to finish.
      if (!(await this.endLease(tx, section, token))) return;
      const now = new Date();
      const ready = await deps.codec.encode(ExportSectionReady({ exportId, service: deps.service, readyAt: now.toISOString() }), {
        tenantId,
        correlationId: section.correlation_id,
        causationId: section.causation_id,
        now,
      });
      await appendFromProjection(deps.store, tx, exportStreamFor(tenantId, exportId), [ready]);
    });
  }

  /** Gives the section back: for anyone at once (we are stopping), after a back-off (it failed), or never (its key is gone). */
  private async release(section: ClaimedSection, token: string, when: 'now' | 'later' | 'never'): Promise<void> {
    const { tenant_id: tenantId, export_id: exportId } = section;
    const { parts, dataSource } = this.deps;
    if (when === 'never') {
      await dataSource.transaction(async (tx) => {
        if (await this.endLease(tx, section, token)) await parts.discard(tx, tenantId, exportId);
      });
      return;
    }
    const backoff = when === 'now' ? '0' : `least(power(2, attempts), ${MAX_BACKOFF_SECONDS})`;
    await dataSource.query(
      `UPDATE ${parts.pendingTable} SET lease = NULL, leased_until = NULL, not_before = now() + make_interval(secs => ${backoff})
        WHERE tenant_id = $1 AND export_id = $2 AND lease = $3`,
      [tenantId, exportId, token],
    );
  }

  /** Deletes the section's pending row if the lease is still ours: whether it was. */
  private async endLease(tx: EntityManager, section: ClaimedSection, token: string): Promise<boolean> {
    const [, deleted] = (await tx.query(
      `DELETE FROM ${this.deps.parts.pendingTable} WHERE tenant_id = $1 AND export_id = $2 AND lease = $3`,
      [section.tenant_id, section.export_id, token],
    )) as [unknown, number];
    return deleted === 1;
  }

  private warn(error: unknown, message: string): void {
    this.warnTo?.({ service: this.deps.service, error: error instanceof Error ? error.message : String(error) }, message);
  }
}
