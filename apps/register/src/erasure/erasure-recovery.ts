import type { EventCodec } from '#cqrs';
import { WrongExpectedRevisionError, type EventStore } from '#eventstore';
import { ErasureRequested, erasureStreamFor, erasureSubject } from '#contracts';
import type { ErasureLedger, ErasureLedgerEntry } from './erasure-ledger';
import { nameBasedUuid } from './erasure-requests';

export interface ErasureRecoveryDeps {
  readonly ledger: ErasureLedger;
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly personalData: {
    forget(tenantId: string, subjectId: string): Promise<void>;
    isForgotten(tenantId: string, subjectId: string): Promise<boolean>;
  };
}

/** What a recovery did, in counts only (ids are pseudonymous but stay out of logs all the same). */
export interface ErasureRecoveryReport {
  /** Distinct requests in the ledger. */
  readonly inLedger: number;
  /** Already carried out in this database (the request's key is destroyed): nothing to do. */
  readonly alreadyApplied: number;
  /** Missing from the event log (restored with the database): appended again under their own id. */
  readonly reappended: number;
  /** In the log but not carried out in this database (only the database was restored): asked again under a new id. */
  readonly reissued: number;
}

/**
 * The recovery step after restoring a backup (`RECOVER=only`): every erasure in the ledger that
 * this database has not carried out is requested again, and the keys of the ids it names are
 * destroyed at once, so that nothing sealed for them reads back even before the services catch up.
 *
 * The database says whether it carried a request out: register destroys the request's own key
 * (`erasure:<id>`) once every service reported done. A restored database older than the erasure has
 * no tombstone for it. Then either
 * - the event log was restored too (one PostgreSQL for both, the default tier): the request is gone
 *   from the log, and is appended again with its own id, so its status URL answers again; or
 * - the log is intact (EventStoreDB apart, or a database restored alone): the request is there, but
 *   its key, created after the backup, is not, so no service can read whom it named on replay; it
 *   is asked again under a new id derived from it.
 * Either way every service then does its part as for any erasure (register erases the account,
 * login its credentials and sessions, pulse the profiles and every identity linked to them, rewards
 * the wallet) while the projections catch up from their restored checkpoints. Running it again, or
 * on a database that was not restored, only asks again for erasures not yet complete: erasing twice
 * changes nothing.
 */
export async function recoverErasures(deps: ErasureRecoveryDeps, now: Date, correlationId: string): Promise<ErasureRecoveryReport> {
  const requests = new Map<string, ErasureLedgerEntry>();
  for (const entry of await deps.ledger.entries()) {
    const key = `${entry.tenantId}\n${entry.erasureId}`;
    if (!requests.has(key)) requests.set(key, entry);
  }
  let alreadyApplied = 0;
  let reappended = 0;
  let reissued = 0;
  for (const entry of requests.values()) {
    const { tenantId, erasureId } = entry;
    if (await deps.personalData.isForgotten(tenantId, erasureSubject(erasureId))) {
      alreadyApplied += 1;
      continue;
    }
    const inLog = (await deps.store.readStream(erasureStreamFor(tenantId, erasureId), { maxCount: 1 })).length > 0;
    const id = inLog ? nameBasedUuid(['tessera/erasure-reissued/v1', tenantId, erasureId, now.toISOString()]) : erasureId;
    await request(deps, entry, id, now, correlationId);
    for (const subject of [...entry.userIds, ...entry.anonymousIds.map((anonymousId) => `anonymous:${anonymousId}`)])
      await deps.personalData.forget(tenantId, subject);
    if (inLog) {
      // Its key is not in this database and cannot open the request any more; the tombstone records it as carried out here.
      await deps.personalData.forget(tenantId, erasureSubject(erasureId));
      reissued += 1;
    } else {
      reappended += 1;
    }
  }
  return { inLedger: requests.size, alreadyApplied, reappended, reissued };
}

async function request(deps: ErasureRecoveryDeps, entry: ErasureLedgerEntry, erasureId: string, now: Date, correlationId: string) {
  const { tenantId, requestedBy, requestedAt, userIds, anonymousIds, emailIndexes } = entry;
  const event = await deps.codec.encode(ErasureRequested({ erasureId, requestedBy, requestedAt, userIds, anonymousIds, emailIndexes }), {
    tenantId,
    correlationId,
    now,
  });
  try {
    await deps.store.appendToStream(erasureStreamFor(tenantId, erasureId), [event], { expectedRevision: 'no_stream' });
  } catch (error) {
    // A recovery run before this one appended it already.
    if (!(error instanceof WrongExpectedRevisionError)) throw error;
  }
}
