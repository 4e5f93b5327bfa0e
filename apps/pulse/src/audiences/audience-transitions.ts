import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { transactionClientOf, type EventCodec } from '#cqrs';
import type { AppendedEvents, EventStore, EventToAppend } from '#eventstore';
import type { PersonalDataCodec } from '#personal-data';
import { AUDIENCE_ENTERED, AUDIENCE_EXITED, AUDIENCE_SOURCE, audienceMessagesStreamFor, MessageReceived } from '#contracts';
import { matches } from './audience-rule';
import type { AudiencesState } from './audience.decider';
import { factsOf, type FactsOfProfile, type Rows } from './profile-facts';

export interface TransitionDeps {
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly personalData: PersonalDataCodec;
}

/** Why profiles are evaluated: which of them only history touched (their messages are history too). */
export interface Evaluation {
  readonly tenantId: string;
  readonly profileIds: readonly string[];
  readonly historical: (profileId: string) => boolean;
  readonly now: Date;
}

export const rowsOf =
  (tx: EntityManager): Rows =>
  async <T>(sql: string, params: readonly unknown[]) =>
    (await tx.query(sql, params as unknown[])) as T[];

/**
 * Evaluates the tenant's audiences for the profiles and records who entered or left, in `tx`: the
 * membership rows and, for each change, an Audience Entered or Exited track message appended to the
 * tenant's log in the same transaction (on a transactional store). A change is applied only over
 * the membership row it was computed from (its transition count), so two evaluations racing on a
 * profile (the projection and the window sweep) record it once; the count also makes the message's
 * id, so a replay after a crash, or an append retried on EventStoreDB, is the same message.
 */
export async function recordTransitions(
  deps: TransitionDeps,
  tx: EntityManager,
  definitions: AudiencesState,
  evaluation: Evaluation,
): Promise<AppendedEvents[]> {
  const audiences = Object.entries(definitions.audiences);
  const { tenantId, now } = evaluation;
  const profileIds = [...new Set(evaluation.profileIds)].sort();
  if (audiences.length === 0 || profileIds.length === 0) return [];
  const rows = rowsOf(tx);
  const facts = await factsOf(rows, deps.personalData, tenantId, profileIds, definitions, now);
  const changes: { key: string; profileId: string; member: boolean; transitions: number }[] = [];
  for (const [key, audience] of audiences.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const profileId of profileIds) {
      const profile = facts.get(profileId);
      if (!profile) continue;
      const row = profile.memberships.get(key);
      const member = matches(audience.rule, profile);
      if (member !== (row?.member ?? false)) changes.push({ key, profileId, member, transitions: (row?.transitions ?? 0) + 1 });
    }
  }
  if (changes.length === 0) return [];
  const applied = await rows<{ audience_key: string; profile_id: string; member: boolean; transitions: number }>(
    `WITH applied AS (
     INSERT INTO pulse_audience_members (tenant_id, audience_key, profile_id, member, transitions, changed_at)
     SELECT $1::uuid, c.key, c.profile_id, c.member, c.transitions, $6::timestamptz FROM unnest($2::text[], $3::uuid[], $4::boolean[], $5::int[]) AS c(key, profile_id, member, transitions)
     ON CONFLICT (tenant_id, audience_key, profile_id) DO UPDATE
       SET member = excluded.member, transitions = excluded.transitions, changed_at = excluded.changed_at
       WHERE pulse_audience_members.transitions = excluded.transitions - 1
     RETURNING audience_key, profile_id::text AS profile_id, member, transitions)
     SELECT * FROM applied ORDER BY audience_key, profile_id`,
    [
      tenantId,
      changes.map((c) => c.key),
      changes.map((c) => c.profileId),
      changes.map((c) => c.member),
      changes.map((c) => c.transitions),
      now,
    ],
  );
  return appendMessages(deps, tx, definitions, evaluation, facts, applied);
}

async function appendMessages(
  deps: TransitionDeps,
  tx: EntityManager,
  definitions: AudiencesState,
  evaluation: Evaluation,
  facts: ReadonlyMap<string, FactsOfProfile>,
  applied: readonly { audience_key: string; profile_id: string; member: boolean; transitions: number }[],
): Promise<AppendedEvents[]> {
  const { tenantId, now } = evaluation;
  const events: EventToAppend[] = [];
  for (const change of applied) {
    const person = whoIs(facts.get(change.profile_id));
    // A profile known only by its e-mail has no id a track message could carry: its membership is recorded all the same.
    if (!person) continue;
    const messageId = `aud_${createHash('sha256').update(`${tenantId}\n${change.audience_key}\n${change.profile_id}\n${change.transitions}`).digest('hex').slice(0, 40)}`;
    const at = now.toISOString();
    const encoded = await deps.codec.encode(
      MessageReceived({
        kind: 'track',
        messageId,
        userId: person.userId,
        anonymousId: person.anonymousId,
        event: change.member ? AUDIENCE_ENTERED : AUDIENCE_EXITED,
        timestamp: at,
        receivedAt: at,
        properties: {
          audience_key: change.audience_key,
          audience_name: definitions.audiences[change.audience_key]?.name ?? change.audience_key,
          profile_id: change.profile_id,
        },
        carriesTraits: false,
        source: { ...AUDIENCE_SOURCE },
        historical: evaluation.historical(change.profile_id),
      }),
      { tenantId, correlationId: messageId, now },
    );
    events.push({ ...encoded, id: uuidFrom(messageId) });
  }
  if (events.length === 0) return [];
  const stream = audienceMessagesStreamFor(tenantId);
  const { transactional } = deps.store;
  const client = transactional && transactionClientOf(tx);
  if (transactional && client) {
    await transactional.appendWithin(client, stream, events);
    return [{ streamName: stream, types: events.map((event) => event.type) }];
  }
  // EventStoreDB: appended on its own, before the transaction commits; a replay appends the same ids, which it drops.
  await deps.store.appendToStream(stream, events);
  return [];
}

/** The ids a message about a profile carries: its userId, or else one of its anonymousIds (read with its facts, in the same transaction). */
function whoIs(facts: FactsOfProfile | undefined): { userId: string | null; anonymousId: string | null } | undefined {
  if (facts && facts.userId !== null) return { userId: facts.userId, anonymousId: null };
  if (facts && facts.anonymousId !== null) return { userId: null, anonymousId: facts.anonymousId };
  return undefined;
}

/** A UUID (version 8, name-based) derived from `name`. */
export function uuidFrom(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
