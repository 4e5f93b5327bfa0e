import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { EventCodec } from '../../../../libs/cqrs/src/event-codec';
import type { EventEnvelope } from '../../../../libs/cqrs/src/event-envelope';
import type { Projection } from '../../../../libs/cqrs/src/projection-runner';
import type { EventStore, JsonObject, JsonValue } from '../../../../libs/eventstore/src/event-store';
import { PostgresEventStore } from '../../../../libs/eventstore/src/postgres/postgres-event-store';
import { blindIndex } from '../../../../libs/personal-data/src/blind-index';
import type { PersonalDataCodec } from '../../../../libs/personal-data/src/personal-data-codec';
import { ACCOUNT_STREAM_PREFIX } from '../../../register/src/account/account.streams';
import type { AccountEvent } from '../../../register/src/account/account.events';
import type { TrackingMessage } from '../tracking/segment-message';
import { TRACKING_STREAM_PREFIX, trackingSubject, type TrackingEvent } from '../tracking/tracking.events';
import { IdentityGraph, type StoredTraits } from './identity-graph';
import { resolveIdentities, type Identifier } from './identity.decider';
import { ProfilesMerged, profileStreamFor } from './identity.events';

export interface ProfilesProjectionDeps {
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly personalData: PersonalDataCodec;
  readonly blindIndexKey: Buffer;
  readonly maxMergesPerIdentifier: number;
}

/** What one message (tracked, or learnt from register) tells the identity graph. */
interface Sighting {
  readonly messageId: string;
  readonly kind: string;
  readonly name: string | null;
  readonly userId: string | null;
  readonly anonymousIds: readonly string[];
  readonly email: string | null;
  readonly subject: string;
  readonly occurredAt: string;
  readonly receivedAt: string;
  readonly properties: JsonObject | null;
  readonly traits: JsonObject | null;
}

/**
 * Unified profiles: resolves every tracked message (and register's sign-ups) to one profile per
 * person. The runner applies events one at a time per batch transaction, so resolution is
 * serialised and two concurrent messages can never both create a profile for one identifier.
 * ProfilesMerged is appended in the same transaction as the read model and the checkpoint when
 * the store is PostgreSQL, so a replay after a crash neither loses nor repeats a merge.
 */
export function profilesProjection(deps: ProfilesProjectionDeps): Projection {
  return {
    name: 'pulse.profiles',
    filter: { streamNamePrefixes: [TRACKING_STREAM_PREFIX, ACCOUNT_STREAM_PREFIX], eventTypePrefixes: ['MessageReceived', 'UserRegistered', 'UserErased'] },
    async apply(envelope: EventEnvelope, tx: EntityManager) {
      const event = envelope.event as TrackingEvent | AccountEvent;
      const tenantId = envelope.metadata.tenantId;
      // An erased person's messages replay with their personal fields gone; they no longer belong to anyone.
      if (envelope.erased) return;
      if (event.type === 'MessageReceived') return resolve(deps, tx, tenantId, fromTracking(event.data), envelope);
      if (event.type === 'UserRegistered' && !envelope.erased && event.data.email) {
        const at = envelope.createdAt.toISOString();
        const profile = event.data.profile ?? {};
        const traits = Object.fromEntries(Object.entries({ email: event.data.email, firstName: profile.givenName, lastName: profile.familyName, phone: profile.phone }).filter(([, v]) => v !== null && v !== undefined)) as JsonObject;
        return resolve(deps, tx, tenantId, {
          messageId: envelope.id, kind: 'identify', name: 'Signed Up', userId: event.data.userId, anonymousIds: [], email: event.data.email,
          subject: event.data.userId, occurredAt: at, receivedAt: at, properties: null, traits,
        }, envelope);
      }
      if (event.type === 'UserErased') return erase(deps, tx, tenantId, event.data.userId);
    },
  };
}

function fromTracking(message: TrackingMessage): Sighting {
  const contextTraits = message.context?.traits;
  const traits = { ...(isJsonObject(contextTraits) ? contextTraits : {}), ...(message.kind === 'identify' ? (message.traits ?? {}) : {}) };
  const email = typeof traits.email === 'string' && traits.email.includes('@') ? traits.email : null;
  return {
    messageId: message.messageId,
    kind: message.kind,
    name: message.kind === 'track' ? (message.event ?? null) : message.kind === 'page' || message.kind === 'screen' ? (message.name ?? null) : null,
    userId: message.userId,
    anonymousIds: [message.anonymousId, message.kind === 'alias' ? message.previousId : undefined].filter((id): id is string => typeof id === 'string'),
    email,
    subject: trackingSubject(message as unknown as JsonObject),
    occurredAt: message.timestamp,
    receivedAt: message.receivedAt,
    properties: message.properties ?? null,
    traits: Object.keys(traits).length > 0 ? traits : null,
  };
}

async function resolve(deps: ProfilesProjectionDeps, tx: EntityManager, tenantId: string, sighting: Sighting, envelope: EventEnvelope): Promise<void> {
  const graph = new IdentityGraph(tx, tenantId);
  const emailIndex = sighting.email ? blindIndex(deps.blindIndexKey, tenantId, 'email', sighting.email) : null;
  const identifiers: Identifier[] = [
    ...(sighting.userId !== null ? [{ kind: 'userId' as const, value: sighting.userId }] : []),
    ...(emailIndex ? [{ kind: 'email' as const, value: emailIndex }] : []),
    ...sighting.anonymousIds.map((value) => ({ kind: 'anonymousId' as const, value })),
  ];
  const decision = resolveIdentities({
    identifiers,
    known: await graph.known(identifiers),
    newProfileId: randomUUID(),
    maxMergesPerIdentifier: deps.maxMergesPerIdentifier,
  });
  if (decision.outcome === 'unidentified') return;
  const { profileId } = decision;
  if (decision.created) await graph.createProfile(profileId, decision.userId);
  else if (decision.userId) await graph.setUserId(profileId, decision.userId);
  for (const identifier of decision.linked) {
    const sealed = identifier.kind === 'email' && sighting.email ? await deps.personalData.sealValue(tenantId, sighting.subject, sighting.email) : null;
    await graph.link(profileId, identifier, sealed as JsonObject | null);
  }
  for (const merge of decision.merges) {
    await graph.merge(merge);
    const merged = ProfilesMerged({ survivorId: merge.survivorId, mergedId: merge.mergedId, viaKind: merge.via.kind, messageId: sighting.messageId, mergedAt: sighting.occurredAt });
    const encoded = await deps.codec.encode(merged, { tenantId, correlationId: envelope.metadata.correlationId, causationId: envelope.id, now: new Date(sighting.occurredAt) });
    const stream = profileStreamFor(tenantId, merge.survivorId);
    const client = (tx.queryRunner as unknown as { databaseConnection?: unknown } | undefined)?.databaseConnection;
    if (deps.store instanceof PostgresEventStore && client) await deps.store.appendWithin(client as never, stream, [encoded]);
    else await deps.store.appendToStream(stream, [encoded]);
  }
  const traits = sighting.traits ? await sealTraits(deps, tenantId, sighting.subject, sighting.traits, sighting.occurredAt) : null;
  const properties = sighting.properties ? ((await deps.personalData.sealValue(tenantId, sighting.subject, sighting.properties)) as unknown as JsonObject) : null;
  await graph.record(profileId, { messageId: sighting.messageId, kind: sighting.kind, name: sighting.name, occurredAt: sighting.occurredAt, receivedAt: sighting.receivedAt, properties, traits });
}

async function sealTraits(deps: ProfilesProjectionDeps, tenantId: string, subject: string, traits: JsonObject, at: string): Promise<StoredTraits> {
  const sealed: StoredTraits = {};
  for (const [name, value] of Object.entries(traits)) {
    sealed[name] = { v: (await deps.personalData.sealValue(tenantId, subject, value as JsonValue)) as unknown as JsonObject, at };
  }
  return sealed;
}

/** Register erased the person: forget the keys of every identity their profile held, then the rows. */
async function erase(deps: ProfilesProjectionDeps, tx: EntityManager, tenantId: string, userId: string): Promise<void> {
  const rows: { profile_id: string }[] = await tx.query(
    "SELECT profile_id FROM pulse_identities WHERE tenant_id = $1 AND kind = 'userId' AND value = $2",
    [tenantId, userId],
  );
  const profileId = rows[0]?.profile_id;
  if (!profileId) return;
  const identities: { kind: string; value: string }[] = await tx.query('SELECT kind, value FROM pulse_identities WHERE tenant_id = $1 AND profile_id = $2', [tenantId, profileId]);
  for (const identity of identities) {
    if (identity.kind === 'userId') await deps.personalData.forget(tenantId, identity.value);
    if (identity.kind === 'anonymousId') await deps.personalData.forget(tenantId, `anonymous:${identity.value}`);
  }
  for (const table of ['pulse_profile_events', 'pulse_profile_counters', 'pulse_identities']) {
    await tx.query(`DELETE FROM ${table} WHERE tenant_id = $1 AND profile_id = $2`, [tenantId, profileId]);
  }
  await tx.query('DELETE FROM pulse_profiles WHERE tenant_id = $1 AND (profile_id = $2 OR merged_into = $2)', [tenantId, profileId]);
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
