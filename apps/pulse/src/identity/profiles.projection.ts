import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { appendFromProjection, type EventCodec, type EventEnvelope, type Projection } from '#cqrs';
import type { AppendedEvents, EventStore, EventToAppend, JsonObject, JsonValue } from '#eventstore';
import { blindIndex, SEALED_FIELD, SubjectErasedError, type PersonalDataCodec } from '#personal-data';
import {
  ACCOUNT_STREAM_PREFIX,
  ERASURE_STREAM_PREFIX,
  TRACKING_STREAM_PREFIX,
  erasureCompletion,
  erasureStreamFor,
  trackingSubject,
} from '#contracts';
import { AudienceEvaluator } from '../audiences/audience-evaluator';
import { AUDIENCES_STREAM_PREFIX } from '../audiences/audience.events';
import { uuidFrom } from '../audiences/audience-transitions';
import { BatchIdentityGraph, type StoredTraits } from './identity-graph';
import type { Identifier } from './identity.decider';
import { ProfilesMerged, profileStreamFor } from './identity.events';
import { KnownIdentities } from './known-identities';
import { writeBatch, type RecordedSighting } from './profile-writes';
import { groupSubject, recordGroups } from '../groups/group-writes';
import { identifiersOf, interpret, isErasure, SIGN_IN_STREAM_PREFIX, type Erasure, type Sighting } from './sightings';

export interface ProfilesProjectionDeps {
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly personalData: PersonalDataCodec;
  readonly blindIndexKey: Buffer;
  readonly maxMergesPerIdentifier: number;
  /** Computed traits and audiences, evaluated as messages land (see AudienceEvaluator). */
  readonly audiences: AudienceEvaluator;
}

/** A sighting with its personal values sealed, ready to resolve and record. */
interface SealedSighting {
  readonly tenantId: string;
  readonly envelope: EventEnvelope;
  readonly sighting: Sighting;
  readonly identifiers: readonly Identifier[];
  readonly email: JsonObject | null;
  readonly traits: StoredTraits | null;
  readonly properties: JsonObject | null;
  /** The group call's account traits, sealed under the group's key. */
  readonly groupTraits: StoredTraits | null;
}

// Large batches amortise the statements over more events. The runner only takes what the
// subscription already holds, so a page of the store (500 events on PostgreSQL) bounds it too.
const MAX_BATCH = 2000;
// Identifiers (and as many profiles) remembered between batches: about 200 bytes each.
const KNOWN_IDENTIFIERS = 100_000;

/** The profiles projection's name (its checkpoint, its parked events), whichever role runs it. */
export const PROFILES_PROJECTION = 'pulse.profiles';

/**
 * Unified profiles: resolves every tracked message, register's sign-ups and login's sign-ins to
 * one profile per person. A batch is resolved in memory, in log order, against the identity graph
 * read once for all its identifiers, then written set-based; batches are applied one after the
 * other in the runner's transaction, so resolution stays serialised and two concurrent messages
 * can never both create a profile for one identifier. An erasure splits the batch: what comes
 * before it is written first, so the erasure sees it. ProfilesMerged is appended in the same
 * transaction as the read model and the checkpoint when the store is PostgreSQL, so a replay after
 * a crash neither loses nor repeats a merge; that is also why a batch that appends (a merge, an
 * audience entered or exited, an erasure done) waits for the WAL flush. One that appends nothing
 * does not: a crash may lose it only with its checkpoint, and it is applied again (a message's
 * own Audience Entered comes back through here, and the next message waited behind its flush).
 */
export function profilesProjection(deps: ProfilesProjectionDeps): Projection {
  const known = new KnownIdentities(KNOWN_IDENTIFIERS);
  return {
    name: PROFILES_PROJECTION,
    filter: {
      streamNamePrefixes: [
        TRACKING_STREAM_PREFIX,
        ACCOUNT_STREAM_PREFIX,
        SIGN_IN_STREAM_PREFIX,
        AUDIENCES_STREAM_PREFIX,
        ERASURE_STREAM_PREFIX,
      ],
      eventTypePrefixes: [
        'MessageReceived',
        'UserRegistered',
        'UserImported',
        'EmailChanged',
        'UserErased',
        'LoginSucceeded',
        'ComputedTrait',
        'AudienceDefined',
        'AudienceRemoved',
        'ErasureRequested',
      ],
    },
    maxBatch: MAX_BATCH,
    asynchronousCommit: 'unless-appending',
    openPersonalData: false,
    async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
      const appended: AppendedEvents[] = [];
      let segment: { envelope: EventEnvelope; sighting: Sighting }[] = [];
      for (const sealed of envelopes) {
        if (AudienceEvaluator.isDefinition(sealed)) {
          // A definition applies from its place in the log: what came before is evaluated without it.
          appended.push(...(await resolveAndRecord(deps, known, tx, segment)));
          segment = [];
          await deps.audiences.applyDefinition(tx, sealed);
          continue;
        }
        const envelope = await readable(deps, sealed);
        const meaning = interpret(envelope);
        if (!meaning) continue;
        if (!isErasure(meaning)) {
          segment.push({ envelope, sighting: meaning });
          continue;
        }
        appended.push(...(await resolveAndRecord(deps, known, tx, segment)));
        segment = [];
        known.forgetAll();
        await erase(deps, tx, tenantOf(envelope), meaning);
        const done = meaning.erasureId === undefined ? undefined : await reportDone(deps, tx, envelope, meaning.erasureId);
        if (done) appended.push(done);
      }
      appended.push(...(await resolveAndRecord(deps, known, tx, segment)));
      return appended;
    },
    committed: () => known.committed(),
    resumed: () => {
      known.reset();
      deps.audiences.forget();
    },
  };
}

/** Answers the ProfilesMerged events it appended inside the transaction. */
async function resolveAndRecord(
  deps: ProfilesProjectionDeps,
  known: KnownIdentities,
  tx: EntityManager,
  segment: readonly { envelope: EventEnvelope; sighting: Sighting }[],
): Promise<AppendedEvents[]> {
  if (segment.length === 0) return [];
  const sealed = (await Promise.all(segment.map(({ envelope, sighting }) => seal(deps, envelope, sighting)))).filter(
    (s) => s !== undefined,
  );
  const graph = await BatchIdentityGraph.load(tx, sealed, deps.maxMergesPerIdentifier, known);
  const landed: { sealed: SealedSighting; profileId: string }[] = [];
  const merges: { sealed: SealedSighting; survivorId: string; mergedId: string; viaKind: string }[] = [];
  for (const item of sealed) {
    const resolution = graph.resolve(item.tenantId, item.identifiers, randomUUID(), item.email);
    if (!resolution) continue;
    landed.push({ sealed: item, profileId: resolution.profileId });
    for (const merge of resolution.merges)
      merges.push({ sealed: item, survivorId: merge.survivorId, mergedId: merge.mergedId, viaKind: merge.via.kind });
  }
  const recorded: RecordedSighting[] = landed.map(({ sealed: { tenantId, sighting, traits, properties }, profileId }) => ({
    tenantId,
    profileId: graph.survivorOf(tenantId, profileId),
    messageId: sighting.messageId,
    kind: sighting.kind,
    name: sighting.name,
    occurredAt: sighting.occurredAt,
    receivedAt: sighting.receivedAt,
    properties,
    traits,
  }));
  await writeBatch(tx, graph, recorded);
  await recordGroups(
    tx,
    landed.flatMap(({ sealed: { tenantId, sighting, groupTraits }, profileId }) =>
      sighting.group
        ? [
            {
              tenantId,
              groupId: sighting.group.id,
              profileId: graph.survivorOf(tenantId, profileId),
              occurredAt: sighting.occurredAt,
              traits: groupTraits,
            },
          ]
        : [],
    ),
  );
  if (graph.merges.length > 0) known.forgetAll();
  else known.learn(graph.storedState());
  const appended: AppendedEvents[] = await deps.audiences.record(
    tx,
    landed.map(({ sealed: { tenantId, sighting }, profileId }) => ({
      tenantId,
      sighting,
      profileId: graph.survivorOf(tenantId, profileId),
    })),
    graph.merges,
    new Date(),
  );
  for (const merge of merges) {
    const inTransaction = await appendMerge(deps, tx, merge);
    if (inTransaction) appended.push(inTransaction);
  }
  return appended;
}

/**
 * Most tracked calls carry no traits: the profile needs nothing from their sealed fields and keeps
 * those as the ingest sealed them. Everything else is opened here.
 */
async function readable(deps: ProfilesProjectionDeps, envelope: EventEnvelope): Promise<EventEnvelope> {
  if (!envelope.sealed) return envelope;
  const data = envelope.event.data as JsonObject;
  const sealed = data[SEALED_FIELD] as JsonObject | undefined;
  // A group call's traits are the account's, which the group profile keeps: it is opened like one with traits.
  const keepsSealed = data.carriesTraits === false && data.kind !== 'group' && sealed?.subject === trackingSubject(data);
  if (envelope.event.type === 'MessageReceived' && keepsSealed) return envelope;
  const opened = await deps.personalData.open(envelope.metadata.tenantId, data);
  return { ...envelope, event: { ...envelope.event, data: opened.data }, erased: opened.erased, sealed: false };
}

/**
 * Seals what the profile keeps (traits, properties, the e-mail) under the message's subject. A
 * subject erased since the message was stored no longer gets a profile: its key is gone, and
 * creating a new one would undo the erasure.
 */
async function seal(deps: ProfilesProjectionDeps, envelope: EventEnvelope, sighting: Sighting): Promise<SealedSighting | undefined> {
  const tenantId = tenantOf(envelope);
  const { subject } = sighting;
  try {
    if (sighting.sealedFields) {
      // Sealed at ingest under this subject's key; a subject forgotten since gets no profile.
      if (await deps.personalData.isForgotten(tenantId, subject)) return undefined;
      return {
        tenantId,
        envelope,
        sighting,
        identifiers: identifiersOf(sighting, null),
        email: null,
        traits: null,
        properties: sighting.sealedFields,
        groupTraits: null,
      };
    }
    const [email, traits, properties, groupTraits] = await Promise.all([
      sighting.email ? deps.personalData.sealValue(tenantId, subject, sighting.email) : null,
      sighting.traits ? sealTraits(deps, tenantId, subject, sighting.traits, sighting.occurredAt) : null,
      sighting.properties ? deps.personalData.sealValue(tenantId, subject, sighting.properties) : null,
      sighting.group?.traits
        ? sealTraits(deps, tenantId, groupSubject(sighting.group.id), sighting.group.traits, sighting.occurredAt)
        : null,
    ]);
    const emailIndex = sighting.email ? blindIndex(deps.blindIndexKey, tenantId, 'email', sighting.email) : null;
    return {
      tenantId,
      envelope,
      sighting,
      identifiers: identifiersOf(sighting, emailIndex),
      email: email as unknown as JsonObject | null,
      traits,
      properties: properties as unknown as JsonObject | null,
      groupTraits,
    };
  } catch (error) {
    if (error instanceof SubjectErasedError) return undefined;
    throw error;
  }
}

async function sealTraits(
  deps: ProfilesProjectionDeps,
  tenantId: string,
  subject: string,
  traits: JsonObject,
  at: string,
): Promise<StoredTraits> {
  const entries = await Promise.all(
    Object.entries(traits).map(
      async ([name, value]) =>
        [name, { v: (await deps.personalData.sealValue(tenantId, subject, value as JsonValue)) as unknown as JsonObject, at }] as const,
    ),
  );
  return Object.fromEntries(entries);
}

async function appendMerge(
  deps: ProfilesProjectionDeps,
  tx: EntityManager,
  merge: { sealed: SealedSighting; survivorId: string; mergedId: string; viaKind: string },
): Promise<AppendedEvents | undefined> {
  const { tenantId, envelope, sighting } = merge.sealed;
  const event = ProfilesMerged({
    survivorId: merge.survivorId,
    mergedId: merge.mergedId,
    viaKind: merge.viaKind,
    messageId: sighting.messageId,
    mergedAt: sighting.occurredAt,
  });
  const encoded = await deps.codec.encode(event, {
    tenantId,
    correlationId: envelope.metadata.correlationId,
    causationId: envelope.id,
    now: new Date(sighting.occurredAt),
  });
  // One id per (message, merged profile): a store that recognises retried appends by id (EventStoreDB) drops a replayed copy.
  const withStableId: EventToAppend = { ...encoded, id: uuidFrom(`${envelope.id}\n${merge.mergedId}`) };
  return appendFromProjection(deps.store, tx, profileStreamFor(tenantId, merge.survivorId), [withStableId]);
}

/**
 * Forgets everyone the erasure names: the profiles any of their identities resolve to (with every
 * identity, trait, counter and event those hold, and the profiles merged into them), the keys of
 * every identity involved, so that their tracked history reads back as erased and further tracking
 * of them is acknowledged but not stored (the ingest cannot seal for them), and their consent
 * withdrawals. The named identities' keys go even when pulse has no profile for them.
 */
async function erase(deps: ProfilesProjectionDeps, tx: EntityManager, tenantId: string, erasure: Erasure): Promise<void> {
  const { userIds, anonymousIds, emailIndexes } = erasure.identities;
  const profiles: { profile_id: string }[] = await tx.query(
    `SELECT DISTINCT profile_id FROM pulse_identities
      WHERE tenant_id = $1 AND ((kind = 'userId' AND value = ANY($2)) OR (kind = 'anonymousId' AND value = ANY($3)) OR (kind = 'email' AND value = ANY($4)))`,
    [tenantId, userIds, anonymousIds, emailIndexes],
  );
  const profileIds = profiles.map((row) => row.profile_id);
  // Taken before anything is deleted, in the order the audience sweep takes them: a sweep that is
  // evaluating these profiles finishes first (and its memberships are deleted below), or waits and
  // then finds them gone.
  await tx.query('SELECT 1 FROM pulse_profiles WHERE tenant_id = $1 AND profile_id = ANY($2) ORDER BY profile_id FOR UPDATE', [
    tenantId,
    profileIds,
  ]);
  const identities: { kind: string; value: string }[] = await tx.query(
    'SELECT kind, value FROM pulse_identities WHERE tenant_id = $1 AND profile_id = ANY($2)',
    [tenantId, profileIds],
  );
  const subjects = new Set([...userIds, ...anonymousIds.map((id) => `anonymous:${id}`)]);
  const forgottenUsers = new Set(userIds);
  for (const identity of identities) {
    if (identity.kind === 'userId') {
      subjects.add(identity.value);
      forgottenUsers.add(identity.value);
    }
    if (identity.kind === 'anonymousId') subjects.add(`anonymous:${identity.value}`);
  }
  for (const subject of subjects) await deps.personalData.forget(tenantId, subject);
  for (const table of [
    'pulse_profile_events',
    'pulse_profile_counters',
    'pulse_identities',
    'pulse_group_members',
    'pulse_trait_points',
    'pulse_trait_values',
    'pulse_audience_members',
  ]) {
    await tx.query(`DELETE FROM ${table} WHERE tenant_id = $1 AND profile_id = ANY($2)`, [tenantId, profileIds]);
  }
  await tx.query('DELETE FROM pulse_profiles WHERE tenant_id = $1 AND (profile_id = ANY($2) OR merged_into = ANY($2))', [
    tenantId,
    profileIds,
  ]);
  for (const table of ['pulse_consent_withdrawals', 'pulse_consent_grants'])
    await tx.query(`DELETE FROM ${table} WHERE tenant_id = $1 AND user_id = ANY($2)`, [tenantId, [...forgottenUsers]]);
}

/** Pulse's part of an erasure request is done: said on the request's stream, with the batch. */
async function reportDone(
  deps: ProfilesProjectionDeps,
  tx: EntityManager,
  envelope: EventEnvelope,
  erasureId: string,
): Promise<AppendedEvents | undefined> {
  const tenantId = envelope.metadata.tenantId;
  const now = new Date();
  const completion = await deps.codec.encode(erasureCompletion(erasureId, 'pulse', now), {
    tenantId,
    correlationId: envelope.metadata.correlationId || envelope.id,
    causationId: envelope.id,
    now,
  });
  return appendFromProjection(deps.store, tx, erasureStreamFor(tenantId, erasureId), [completion]);
}

function tenantOf(envelope: EventEnvelope): string {
  return envelope.metadata.tenantId.toLowerCase();
}
