import type { EntityManager } from 'typeorm';
import { mergeTraits, type StoredTraits } from '../identity/identity-graph';

/** A `group` call as it lands: the account it names, its traits (sealed under the group's key), and whose profile called. */
export interface GroupSighting {
  readonly tenantId: string;
  readonly groupId: string;
  readonly profileId: string;
  readonly occurredAt: string;
  readonly traits: StoredTraits | null;
}

/** Whose key seals a group's traits: the account's own, not the caller's, so erasing one member keeps the account readable. */
export function groupSubject(groupId: string): string {
  return `group:${groupId}`;
}

/**
 * Account profiles for one batch: each group's traits merged by event time (a later call's value wins,
 * as for people), first and last seen, and its members as profiles, so that a merge moves a membership
 * with the rest of the profile and an erasure takes it away. Groups are few beside messages: reading the
 * batch's groups once and writing them back is cheaper than a merge in SQL over sealed values.
 */
export async function recordGroups(tx: EntityManager, sightings: readonly GroupSighting[]): Promise<void> {
  if (sightings.length === 0) return;
  const groups = new Map<string, { tenantId: string; groupId: string; traits: StoredTraits; first: string; last: string }>();
  for (const s of sightings) {
    const key = `${s.tenantId}\n${s.groupId}`;
    const group = groups.get(key);
    if (!group)
      groups.set(key, { tenantId: s.tenantId, groupId: s.groupId, traits: s.traits ?? {}, first: s.occurredAt, last: s.occurredAt });
    else {
      group.traits = mergeTraits(group.traits, s.traits ?? {});
      if (Date.parse(s.occurredAt) < Date.parse(group.first)) group.first = s.occurredAt;
      if (Date.parse(s.occurredAt) > Date.parse(group.last)) group.last = s.occurredAt;
    }
  }
  const batch = [...groups.values()];
  const stored: { tenant_id: string; group_id: string; traits: StoredTraits }[] = await tx.query(
    `SELECT g.tenant_id::text, g.group_id, g.traits FROM pulse_groups g
     JOIN unnest($1::uuid[], $2::text[]) AS b(tenant_id, group_id) ON g.tenant_id = b.tenant_id AND g.group_id = b.group_id
     FOR UPDATE OF g`,
    [batch.map((g) => g.tenantId), batch.map((g) => g.groupId)],
  );
  const storedTraits = new Map(stored.map((row) => [`${row.tenant_id}\n${row.group_id}`, row.traits]));
  await tx.query(
    `INSERT INTO pulse_groups (tenant_id, group_id, traits, first_seen, last_seen)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::timestamptz[], $5::timestamptz[])
     ON CONFLICT (tenant_id, group_id) DO UPDATE SET traits = excluded.traits,
       first_seen = least(pulse_groups.first_seen, excluded.first_seen), last_seen = greatest(pulse_groups.last_seen, excluded.last_seen)`,
    [
      batch.map((g) => g.tenantId),
      batch.map((g) => g.groupId),
      batch.map((g) => JSON.stringify(mergeTraits(storedTraits.get(`${g.tenantId.toLowerCase()}\n${g.groupId}`) ?? {}, g.traits))),
      batch.map((g) => g.first),
      batch.map((g) => g.last),
    ],
  );
  const members = new Map<string, { tenantId: string; groupId: string; profileId: string; first: string; last: string }>();
  for (const s of sightings) {
    const key = `${s.tenantId}\n${s.groupId}\n${s.profileId}`;
    const member = members.get(key);
    if (!member)
      members.set(key, { tenantId: s.tenantId, groupId: s.groupId, profileId: s.profileId, first: s.occurredAt, last: s.occurredAt });
    else {
      if (Date.parse(s.occurredAt) < Date.parse(member.first)) member.first = s.occurredAt;
      if (Date.parse(s.occurredAt) > Date.parse(member.last)) member.last = s.occurredAt;
    }
  }
  const rows = [...members.values()];
  await tx.query(
    `INSERT INTO pulse_group_members (tenant_id, group_id, profile_id, joined_at, last_seen)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::timestamptz[])
     ON CONFLICT (tenant_id, group_id, profile_id) DO UPDATE SET
       joined_at = least(pulse_group_members.joined_at, excluded.joined_at), last_seen = greatest(pulse_group_members.last_seen, excluded.last_seen)`,
    [
      rows.map((m) => m.tenantId),
      rows.map((m) => m.groupId),
      rows.map((m) => m.profileId),
      rows.map((m) => m.first),
      rows.map((m) => m.last),
    ],
  );
}

/** A merge moves the merged profile's memberships onto the survivor (one row per group, the earliest join kept). */
export async function moveGroupMemberships(tx: EntityManager, tenantId: string, survivorId: string, mergedId: string): Promise<void> {
  await tx.query(
    `WITH moved AS (DELETE FROM pulse_group_members WHERE tenant_id = $1 AND profile_id = $3 RETURNING group_id, joined_at, last_seen)
     INSERT INTO pulse_group_members (tenant_id, group_id, profile_id, joined_at, last_seen)
     SELECT $1, group_id, $2, joined_at, last_seen FROM moved
     ON CONFLICT (tenant_id, group_id, profile_id) DO UPDATE SET
       joined_at = least(pulse_group_members.joined_at, excluded.joined_at), last_seen = greatest(pulse_group_members.last_seen, excluded.last_seen)`,
    [tenantId, survivorId, mergedId],
  );
}
