import type { EntityManager } from 'typeorm';
import type { JsonObject } from '#eventstore';
import { mergeTraits, type BatchIdentityGraph, type BatchMerge, type StoredTraits } from './identity-graph';
import { moveGroupMemberships } from '../groups/group-writes';

/** One message as it lands on its (final) profile. */
export interface RecordedSighting {
  readonly tenantId: string;
  readonly profileId: string;
  readonly messageId: string;
  readonly kind: string;
  readonly name: string | null;
  readonly occurredAt: string;
  readonly receivedAt: string;
  readonly properties: JsonObject | null;
  readonly traits: StoredTraits | null;
}

/**
 * The profiles projection's writes for one batch, set-based: one statement per table whatever the
 * batch size (merges aside, which are rare and move rows written by earlier batches). Order
 * matters: profiles first (merges and identities point at them), then the merges of stored rows,
 * then everything the batch itself adds, already on the profile that survives the batch.
 */
export async function writeBatch(tx: EntityManager, graph: BatchIdentityGraph, recorded: readonly RecordedSighting[]): Promise<void> {
  await insertProfiles(tx, graph.createdProfiles());
  for (const merge of graph.merges) await mergeStoredRows(tx, merge);
  await setUserIds(tx, graph.changedUserIds());
  await insertIdentities(tx, graph.linkedIdentities());
  await setMergeCounts(tx, graph.changedMergeCounts());
  if (recorded.length === 0) return;
  await addSightings(tx, recorded);
}

async function insertProfiles(tx: EntityManager, profiles: ReturnType<BatchIdentityGraph['createdProfiles']>): Promise<void> {
  if (profiles.length === 0) return;
  await tx.query(
    `INSERT INTO pulse_profiles (tenant_id, profile_id, user_id, merged_into)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[])`,
    [profiles.map((p) => p.tenantId), profiles.map((p) => p.profileId), profiles.map((p) => p.userId), profiles.map((p) => p.mergedInto)],
  );
}

/** Moves what earlier batches stored for the merged profile onto the survivor. */
async function mergeStoredRows(tx: EntityManager, merge: BatchMerge): Promise<void> {
  const args = [merge.tenantId, merge.survivorId, merge.mergedId];
  await tx.query('UPDATE pulse_identities SET profile_id = $2 WHERE tenant_id = $1 AND profile_id = $3', args);
  await tx.query('UPDATE pulse_profile_events SET profile_id = $2 WHERE tenant_id = $1 AND profile_id = $3', args);
  await moveGroupMemberships(tx, merge.tenantId, merge.survivorId, merge.mergedId);
  await tx.query(
    `WITH moved AS (DELETE FROM pulse_profile_counters WHERE tenant_id = $1 AND profile_id = $3 RETURNING event_name, count, first_seen, last_seen)
     INSERT INTO pulse_profile_counters (tenant_id, profile_id, event_name, count, first_seen, last_seen)
     SELECT $1, $2, event_name, count, first_seen, last_seen FROM moved
     ON CONFLICT (tenant_id, profile_id, event_name) DO UPDATE SET count = pulse_profile_counters.count + excluded.count,
       first_seen = least(pulse_profile_counters.first_seen, excluded.first_seen), last_seen = greatest(pulse_profile_counters.last_seen, excluded.last_seen)`,
    args,
  );
  const rows: { profile_id: string; traits: StoredTraits }[] = await tx.query(
    'SELECT profile_id::text, traits FROM pulse_profiles WHERE tenant_id = $1 AND profile_id IN ($2, $3)',
    args,
  );
  const traitsOf = (profileId: string) => rows.find((row) => row.profile_id === profileId.toLowerCase())?.traits ?? {};
  await tx.query(
    `UPDATE pulse_profiles s SET user_id = coalesce(s.user_id, m.user_id), event_count = s.event_count + m.event_count,
       first_seen = least(s.first_seen, m.first_seen), last_seen = greatest(s.last_seen, m.last_seen), traits = $4
     FROM pulse_profiles m WHERE s.tenant_id = $1 AND s.profile_id = $2 AND m.tenant_id = $1 AND m.profile_id = $3`,
    [...args, JSON.stringify(mergeTraits(traitsOf(merge.survivorId), traitsOf(merge.mergedId)))],
  );
  await tx.query(
    `UPDATE pulse_profiles SET merged_into = $2, traits = '{}'::jsonb, event_count = 0, user_id = NULL, first_seen = NULL, last_seen = NULL
     WHERE tenant_id = $1 AND profile_id = $3`,
    args,
  );
}

async function setUserIds(tx: EntityManager, changes: ReturnType<BatchIdentityGraph['changedUserIds']>): Promise<void> {
  if (changes.length === 0) return;
  await tx.query(
    `UPDATE pulse_profiles p SET user_id = c.user_id
     FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS c(tenant_id, profile_id, user_id)
     WHERE p.tenant_id = c.tenant_id AND p.profile_id = c.profile_id`,
    [changes.map((c) => c.tenantId), changes.map((c) => c.profileId), changes.map((c) => c.userId)],
  );
}

async function insertIdentities(tx: EntityManager, identities: ReturnType<BatchIdentityGraph['linkedIdentities']>): Promise<void> {
  if (identities.length === 0) return;
  await tx.query(
    `INSERT INTO pulse_identities (tenant_id, kind, value, profile_id, sealed_value, merges)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[], $6::int[])
     ON CONFLICT DO NOTHING`,
    [
      identities.map((i) => i.tenantId),
      identities.map((i) => i.kind),
      identities.map((i) => i.value),
      identities.map((i) => i.profileId),
      identities.map((i) => (i.sealedValue ? JSON.stringify(i.sealedValue) : null)),
      identities.map((i) => i.merges),
    ],
  );
}

async function setMergeCounts(tx: EntityManager, changes: ReturnType<BatchIdentityGraph['changedMergeCounts']>): Promise<void> {
  if (changes.length === 0) return;
  await tx.query(
    `UPDATE pulse_identities i SET merges = c.merges
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) AS c(tenant_id, kind, value, merges)
     WHERE i.tenant_id = c.tenant_id AND i.kind = c.kind AND i.value = c.value`,
    [changes.map((c) => c.tenantId), changes.map((c) => c.kind), changes.map((c) => c.value), changes.map((c) => c.merges)],
  );
}

/**
 * What the batch's messages add, in one statement for the three tables (a round trip each cost more
 * than the rows on a batch of a few events): the events, in log order so that the events API (newest
 * first by sequence) lists them as they happened; per profile and event name how many, first and last
 * seen; per profile the event count, first and last seen and the batch's traits merged by event time.
 * Properties travel as one JSON array rather than a jsonb[] literal, which would escape every quote.
 */
async function addSightings(tx: EntityManager, recorded: readonly RecordedSighting[]): Promise<void> {
  const counters = countersOf(recorded);
  const totals = totalsOf(recorded);
  await tx.query(
    `WITH events AS (
       INSERT INTO pulse_profile_events (tenant_id, profile_id, message_id, kind, name, occurred_at, received_at, properties)
       SELECT tenant_id, profile_id, message_id, kind, name, occurred_at, received_at, nullif(properties, 'null'::jsonb)
       FROM ROWS FROM (unnest($1::uuid[]), unnest($2::uuid[]), unnest($3::text[]), unnest($4::text[]), unnest($5::text[]),
                       unnest($6::timestamptz[]), unnest($7::timestamptz[]), jsonb_array_elements($8::jsonb))
         WITH ORDINALITY AS e(tenant_id, profile_id, message_id, kind, name, occurred_at, received_at, properties, position)
       ORDER BY position
     ),
     counters AS (
       INSERT INTO pulse_profile_counters (tenant_id, profile_id, event_name, count, first_seen, last_seen)
       SELECT * FROM unnest($9::uuid[], $10::uuid[], $11::text[], $12::bigint[], $13::timestamptz[], $14::timestamptz[])
       ON CONFLICT (tenant_id, profile_id, event_name) DO UPDATE SET count = pulse_profile_counters.count + excluded.count,
         first_seen = least(pulse_profile_counters.first_seen, excluded.first_seen), last_seen = greatest(pulse_profile_counters.last_seen, excluded.last_seen)
     )
     UPDATE pulse_profiles p SET event_count = p.event_count + t.count, first_seen = least(p.first_seen, t.first_seen),
       last_seen = greatest(p.last_seen, t.last_seen),
       traits = CASE WHEN t.traits IS NULL THEN p.traits ELSE (
         SELECT coalesce(jsonb_object_agg(key, CASE WHEN n.value IS NULL THEN o.value WHEN o.value IS NULL THEN n.value
           WHEN (o.value->>'at') > (n.value->>'at') THEN o.value ELSE n.value END), '{}'::jsonb)
         FROM jsonb_each(p.traits) o FULL JOIN jsonb_each(t.traits) n USING (key)) END
     FROM unnest($15::uuid[], $16::uuid[], $17::bigint[], $18::timestamptz[], $19::timestamptz[], $20::jsonb[]) AS t(tenant_id, profile_id, count, first_seen, last_seen, traits)
     WHERE p.tenant_id = t.tenant_id AND p.profile_id = t.profile_id`,
    [
      recorded.map((r) => r.tenantId),
      recorded.map((r) => r.profileId),
      recorded.map((r) => r.messageId),
      recorded.map((r) => r.kind),
      recorded.map((r) => r.name),
      recorded.map((r) => r.occurredAt),
      recorded.map((r) => r.receivedAt),
      JSON.stringify(recorded.map((r) => r.properties)),
      counters.map((c) => c.tenantId),
      counters.map((c) => c.profileId),
      counters.map((c) => c.name),
      counters.map((c) => c.count),
      counters.map((c) => c.first),
      counters.map((c) => c.last),
      totals.map((t) => t.tenantId),
      totals.map((t) => t.profileId),
      totals.map((t) => t.count),
      totals.map((t) => t.first),
      totals.map((t) => t.last),
      totals.map((t) => (t.traits ? JSON.stringify(t.traits) : null)),
    ],
  );
}

/** Per profile and event name: how many, first and last seen (one row each, as ON CONFLICT needs). */
function countersOf(recorded: readonly RecordedSighting[]) {
  const counters = new Map<string, { tenantId: string; profileId: string; name: string; count: number; first: string; last: string }>();
  for (const r of recorded) {
    const name = r.name ?? r.kind;
    const key = `${r.tenantId}\n${r.profileId}\n${name}`;
    const counter = counters.get(key);
    if (!counter)
      counters.set(key, { tenantId: r.tenantId, profileId: r.profileId, name, count: 1, first: r.occurredAt, last: r.occurredAt });
    else {
      counter.count += 1;
      if (Date.parse(r.occurredAt) < Date.parse(counter.first)) counter.first = r.occurredAt;
      if (Date.parse(r.occurredAt) > Date.parse(counter.last)) counter.last = r.occurredAt;
    }
  }
  return [...counters.values()];
}

/** Per profile: how many, first and last seen, and the batch's traits merged by event time. */
function totalsOf(recorded: readonly RecordedSighting[]) {
  const totals = new Map<
    string,
    { tenantId: string; profileId: string; count: number; first: string; last: string; traits: StoredTraits | null }
  >();
  for (const r of recorded) {
    const key = `${r.tenantId}\n${r.profileId}`;
    const total = totals.get(key);
    if (!total)
      totals.set(key, {
        tenantId: r.tenantId,
        profileId: r.profileId,
        count: 1,
        first: r.occurredAt,
        last: r.occurredAt,
        traits: r.traits,
      });
    else {
      total.count += 1;
      if (Date.parse(r.occurredAt) < Date.parse(total.first)) total.first = r.occurredAt;
      if (Date.parse(r.occurredAt) > Date.parse(total.last)) total.last = r.occurredAt;
      if (r.traits) total.traits = mergeTraits(total.traits ?? {}, r.traits);
    }
  }
  return [...totals.values()];
}
