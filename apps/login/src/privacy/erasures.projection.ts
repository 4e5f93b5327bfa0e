import type { EntityManager } from 'typeorm';
import { appendFromProjection, type EventCodec, type EventEnvelope, type Projection } from '#cqrs';
import type { AppendedEvents, EventStore, JsonObject } from '#eventstore';
import { ERASURE_STREAM_PREFIX, PRIVACY_REQUEST_POLL_MS, erasureCompletion, erasureIdentitiesOf, erasureStreamFor } from '#contracts';
import { endEverythingOf } from '../login.projection';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const LOGIN_ERASURES_PROJECTION = 'login.erasures';

/**
 * Login's part of every erasure request: the credentials of the accounts it names (by register's
 * id or by the e-mail's blind index) are deleted, with their failed-attempt record, and every
 * session, grant, code and token of theirs ends; then login says it is done. Sign-in history in the
 * event store names a person only by account id and the e-mail's blind index, never in clear.
 * Deletes repeat harmlessly, so a replay changes nothing.
 */
export function loginErasuresProjection(deps: { readonly store: EventStore; readonly codec: EventCodec }): Projection {
  return {
    name: LOGIN_ERASURES_PROJECTION,
    filter: { streamNamePrefixes: [ERASURE_STREAM_PREFIX], eventTypePrefixes: ['ErasureRequested'] },
    idlePollMs: PRIVACY_REQUEST_POLL_MS,
    async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
      const appended: AppendedEvents[] = [];
      for (const envelope of envelopes) {
        // Erased: every service completed it already, its key is gone.
        const identities = envelope.erased ? undefined : erasureIdentitiesOf(envelope.event.data as JsonObject);
        if (!identities) continue;
        const { tenantId } = envelope.metadata;
        // Login keeps register's accounts only, whose ids are UUIDs: a tracked userId cannot be one of them.
        const accounts: { user_id: string; email_index: string }[] = await tx.query(
          `SELECT user_id::text, email_index FROM login_credentials
            WHERE tenant_id = $1 AND (user_id::text = ANY($2) OR email_index = ANY($3))`,
          [tenantId, identities.userIds.filter((id) => UUID.test(id)), identities.emailIndexes],
        );
        const userIds = new Set([...identities.userIds.filter((id) => UUID.test(id)), ...accounts.map((row) => row.user_id)]);
        const accountKeys = [...new Set([...identities.emailIndexes, ...accounts.map((row) => row.email_index)])];
        await tx.query('DELETE FROM login_throttle WHERE tenant_id = $1 AND account_key = ANY($2)', [tenantId, accountKeys]);
        await tx.query('DELETE FROM login_credentials WHERE tenant_id = $1 AND user_id::text = ANY($2)', [tenantId, [...userIds]]);
        for (const userId of userIds) await endEverythingOf(tx, tenantId, userId);
        const erasureId = String((envelope.event.data as JsonObject).erasureId);
        const now = new Date();
        const completion = await deps.codec.encode(erasureCompletion(erasureId, 'login', now), {
          tenantId,
          correlationId: envelope.metadata.correlationId || envelope.id,
          causationId: envelope.id,
          now,
        });
        const done = await appendFromProjection(deps.store, tx, erasureStreamFor(tenantId, erasureId), [completion]);
        if (done) appended.push(done);
      }
      return appended;
    },
  };
}
