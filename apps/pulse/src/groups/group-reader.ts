import type { Pool } from 'pg';
import type { JsonValue } from '#eventstore';
import type { PersonalDataCodec } from '#personal-data';
import { ProblemError } from '#platform';
import type { StoredTraits } from '../identity/identity-graph';

const notFound = () =>
  new ProblemError({ status: 404, type: 'group-not-found', title: 'Group not found', detail: 'no group call named this groupId' });

/** Account profiles, from the read model the profiles projection keeps: traits opened on the way out. */
export class GroupReader {
  constructor(
    private readonly pool: Pool,
    private readonly personalData: PersonalDataCodec,
  ) {}

  async group(tenantId: string, groupId: string) {
    const { rows } = await this.pool.query<{ traits: StoredTraits; first_seen: Date; last_seen: Date; members: string }>({
      name: 'pulse_read_group',
      text: `SELECT g.traits, g.first_seen, g.last_seen,
               (SELECT count(*) FROM pulse_group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.group_id)::text AS members
             FROM pulse_groups g WHERE g.tenant_id = $1 AND g.group_id = $2`,
      values: [tenantId, groupId],
    });
    const group = rows[0];
    if (!group) throw notFound();
    const traits: Record<string, JsonValue> = {};
    for (const [name, stored] of Object.entries(group.traits)) {
      const opened = await this.personalData.openValue(tenantId, stored.v);
      if (!opened.erased) traits[name] = opened.value;
    }
    return {
      groupId,
      traits,
      memberCount: Number(group.members),
      firstSeen: group.first_seen.toISOString(),
      lastSeen: group.last_seen.toISOString(),
    };
  }

  /** Members in profile order; the cursor is the last profile of the page. One round trip. */
  async members(tenantId: string, groupId: string, cursor: string | undefined, limit: number) {
    const { rows } = await this.pool.query<{
      known: boolean;
      profile_id: string | null;
      user_id: string | null;
      joined_at: Date;
      last_seen: Date;
    }>({
      name: 'pulse_read_group_members',
      text: `SELECT true AS known, m.profile_id::text AS profile_id, p.user_id, m.joined_at, m.last_seen
             FROM pulse_groups g
             LEFT JOIN LATERAL (
               SELECT * FROM pulse_group_members m
               WHERE m.tenant_id = g.tenant_id AND m.group_id = g.group_id AND ($3::uuid IS NULL OR m.profile_id > $3::uuid)
               ORDER BY m.profile_id LIMIT $4) m ON true
             LEFT JOIN pulse_profiles p ON p.tenant_id = m.tenant_id AND p.profile_id = m.profile_id
             WHERE g.tenant_id = $1 AND g.group_id = $2
             ORDER BY m.profile_id`,
      values: [tenantId, groupId, cursor ?? null, limit + 1],
    });
    if (rows.length === 0) throw notFound();
    const members = rows.filter((row) => row.profile_id !== null);
    const page = members.slice(0, limit);
    return {
      members: page.map((row) => ({
        profileId: row.profile_id,
        userId: row.user_id,
        joinedAt: row.joined_at.toISOString(),
        lastSeen: row.last_seen.toISOString(),
      })),
      nextCursor: members.length > limit ? page[page.length - 1]!.profile_id : null,
    };
  }
}
