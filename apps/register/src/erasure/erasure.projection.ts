import type { EntityManager } from 'typeorm';
import { appendFromProjection, type EventCodec, type EventEnvelope, type Projection } from '#cqrs';
import type { AppendedEvents, EventStore, JsonObject } from '#eventstore';
import { NO_BRANDING, isUuid } from '#platform';
import {
  ERASURE_STREAM_PREFIX,
  type ErasureIdentities,
  erasureCompletion,
  erasureIdentitiesOf,
  erasureStreamFor,
  erasureSubject,
} from '#contracts';
import type { PersonalDataEraser } from '../register.ports';
import { statusOf } from './erasure-requests';
import { EraseUser, type EraseUserHandler } from './erasure.handler';

export interface ErasureProjectionDeps {
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly erasures: EraseUserHandler;
  readonly eraser: PersonalDataEraser;
  /** Exports about the person are discarded with the rest of register's part. */
  readonly exports: { discardExportsOf(tenantId: string, identities: ErasureIdentities, correlationId: string): Promise<void> };
}

export const REGISTER_ERASURES_PROJECTION = 'register.erasures';

/**
 * Register's part of every erasure request: each account the request names is erased as
 * `DELETE /users/{id}` erases it (UserErased, the e-mail freed, the key destroyed), every export
 * about any of the identities is discarded (its key destroyed, see ExportRequests), then register
 * says it is done. When the last service's completion arrives, the request's own key is destroyed:
 * from then on the request no longer says whom it was about. Every step is safe to repeat, so a
 * replay (a crash before the checkpoint, a rebuild) finishes what was started and changes nothing else.
 */
export function erasureProjection(deps: ErasureProjectionDeps): Projection {
  return {
    name: REGISTER_ERASURES_PROJECTION,
    filter: { streamNamePrefixes: [ERASURE_STREAM_PREFIX], eventTypePrefixes: ['ErasureRequested', 'ErasureCompleted'] },
    async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
      const appended: AppendedEvents[] = [];
      for (const envelope of envelopes) {
        const { tenantId } = envelope.metadata;
        const data = envelope.event.data as JsonObject;
        const erasureId = String(data.erasureId);
        if (envelope.event.type === 'ErasureCompleted') {
          const status = statusOf(erasureId, await deps.store.readStream(erasureStreamFor(tenantId, erasureId)));
          if (status?.status === 'completed') await deps.eraser.forget(tenantId, erasureSubject(erasureId));
          continue;
        }
        // Its key is gone: every service completed it already.
        const identities = envelope.erased ? undefined : erasureIdentitiesOf(data);
        if (!identities) continue;
        const requestedBy = data.requestedBy === 'user' ? 'user' : 'tenant';
        // The erasure needs the tenant's id alone: no page or mail is made for it.
        const tenant = { tenantId, slug: '', name: '', branding: NO_BRANDING };
        for (const userId of identities.userIds)
          await deps.erasures.execute(new EraseUser(tenant, userId, requestedBy, envelope.metadata.correlationId || envelope.id));
        // The profile read model holds the address, names and phone in clear and follows UserErased
        // on a runner of its own, which may lag: register is done only once they are gone, so they
        // go here, with the report. Its runner deletes nothing more later, and cannot bring them
        // back (the events it would read them from are sealed under the destroyed key).
        // Only ids that can be accounts (a tracked userId cannot), so that the key's user_id part serves the delete.
        await tx.query('DELETE FROM register_profiles WHERE tenant_id = $1 AND user_id = ANY($2::uuid[])', [
          tenantId,
          identities.userIds.filter(isUuid),
        ]);
        // Before register says it is done: once the request completes, no export of theirs is readable either.
        await deps.exports.discardExportsOf(tenantId, identities, envelope.metadata.correlationId || envelope.id);
        // When register finished, not when the request was made: the status tells how long each service took.
        const now = new Date();
        const completion = await deps.codec.encode(erasureCompletion(erasureId, 'register', now), {
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
