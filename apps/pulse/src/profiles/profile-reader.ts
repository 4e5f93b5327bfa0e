import type { Pool } from 'pg';
import type { JsonObject, JsonValue } from '#eventstore';
import { blindIndex, SEALED_FIELD, type PersonalDataCodec } from '#personal-data';
import { ProblemError } from '#platform';
import { loadDefinitions } from '../audiences/audience-evaluator';
import { factsOf, type Rows } from '../audiences/profile-facts';
import type { StoredTraits } from '../identity/identity-graph';

type Kind = 'userId' | 'anonymousId' | 'email';

const notFound = () =>
  new ProblemError({ status: 404, type: 'profile-not-found', title: 'Profile not found', detail: 'no profile has this identity' });

/** A profile's row as reads select it. */
export interface StoredProfile {
  profile_id: string;
  user_id: string | null;
  traits: StoredTraits;
  event_count: string;
  first_seen: Date | null;
  last_seen: Date | null;
}

interface ProfileRow extends StoredProfile {
  identities: { kind: Kind; value: string; sealed: JsonObject | null }[];
  counters: { name: string; count: string; first: string; last: string }[];
  groups: string[];
}

/** The groups a profile lists (the first by id); a group's own members list has them all. */
const GROUPS_SHOWN = 100;

/** PostgreSQL's JSON rendering of a timestamptz, as the API writes every instant. */
function isoOf(timestamp: string): string {
  return new Date(timestamp).toISOString();
}

/** The unified profile, from the read model: sealed values opened on the way out. */
export class ProfileReader {
  constructor(
    private readonly pool: Pool,
    private readonly personalData: PersonalDataCodec,
    private readonly blindIndexKey: Buffer,
  ) {}

  /** The identity's key as stored: e-mails are found through their blind index. */
  private identityKey(tenantId: string, kind: Kind, value: string): string {
    return kind === 'email' ? blindIndex(this.blindIndexKey, tenantId, 'email', value) : value;
  }

  /** One round trip: the profile the identity belongs to, with its identities and counters. */
  async profile(tenantId: string, kind: Kind, value: string) {
    const { rows } = await this.pool.query<ProfileRow>({
      name: 'pulse_read_profile',
      text: `SELECT p.profile_id::text AS profile_id, p.user_id, p.traits, p.event_count::text AS event_count, p.first_seen, p.last_seen,
               (SELECT coalesce(json_agg(json_build_object('kind', i.kind, 'value', i.value, 'sealed', i.sealed_value) ORDER BY i.kind, i.value), '[]')
                  FROM pulse_identities i WHERE i.tenant_id = p.tenant_id AND i.profile_id = p.profile_id) AS identities,
               (SELECT coalesce(json_agg(json_build_object('name', c.event_name, 'count', c.count::text, 'first', c.first_seen, 'last', c.last_seen) ORDER BY c.event_name), '[]')
                  FROM pulse_profile_counters c WHERE c.tenant_id = p.tenant_id AND c.profile_id = p.profile_id) AS counters,
               (SELECT coalesce(json_agg(m.group_id ORDER BY m.group_id), '[]') FROM (SELECT group_id FROM pulse_group_members m
                  WHERE m.tenant_id = p.tenant_id AND m.profile_id = p.profile_id ORDER BY group_id LIMIT ${GROUPS_SHOWN}) m) AS groups
             FROM pulse_identities target
             JOIN pulse_profiles p ON p.tenant_id = target.tenant_id AND p.profile_id = target.profile_id
             WHERE target.tenant_id = $1 AND target.kind = $2 AND target.value = $3`,
      values: [tenantId, kind, this.identityKey(tenantId, kind, value)],
    });
    const profile = rows[0];
    if (!profile) throw notFound();
    const grouped = await openIdentities(this.personalData, tenantId, profile.identities);
    const traits = await openTraits(this.personalData, tenantId, profile.traits);
    return {
      profileId: profile.profile_id,
      userId: profile.user_id,
      identities: grouped,
      traits,
      groups: profile.groups,
      ...(await this.audiencesOf(tenantId, profile.profile_id)),
      counters: {
        total: Number(profile.event_count),
        firstSeen: profile.first_seen?.toISOString() ?? null,
        lastSeen: profile.last_seen?.toISOString() ?? null,
        events: Object.fromEntries(
          profile.counters.map((row) => [row.name, { count: Number(row.count), firstSeen: isoOf(row.first), lastSeen: isoOf(row.last) }]),
        ),
      },
    };
  }

  /** Computed traits as of now (windows as they stand, not as of the last event) and the audiences the profile is in. */
  private async audiencesOf(tenantId: string, profileId: string) {
    const rows: Rows = async <T>(sql: string, params: readonly unknown[]) => (await this.pool.query(sql, params as unknown[])).rows as T[];
    const definitions = await loadDefinitions(rows, tenantId);
    if (!definitions) return { computedTraits: {}, audiences: [] };
    const facts = (await factsOf(rows, this.personalData, tenantId, [profileId], definitions, new Date())).get(profileId);
    const audiences = [...(facts?.memberships ?? [])].flatMap(([key, row]) => (row.member ? [key] : []));
    return { computedTraits: facts?.computed ?? {}, audiences };
  }

  /** Newest first; the cursor is the position after which the next page starts. One round trip. */
  async events(tenantId: string, kind: Kind, value: string, cursor: string | undefined, limit: number) {
    const { rows } = await this.pool.query<Omit<StoredEvent, 'seq'> & { profile_id: string; seq: string | null }>({
      name: 'pulse_read_profile_events',
      text: `SELECT target.profile_id::text AS profile_id, e.seq::text AS seq, e.message_id, e.kind, e.name, e.occurred_at, e.received_at, e.properties
             FROM pulse_identities target
             LEFT JOIN LATERAL (
               SELECT * FROM pulse_profile_events e
               WHERE e.tenant_id = target.tenant_id AND e.profile_id = target.profile_id AND ($4::bigint IS NULL OR e.seq < $4::bigint)
               ORDER BY e.seq DESC LIMIT $5) e ON true
             WHERE target.tenant_id = $1 AND target.kind = $2 AND target.value = $3
             ORDER BY e.seq DESC`,
      values: [tenantId, kind, this.identityKey(tenantId, kind, value), cursor ?? null, limit + 1],
    });
    if (rows.length === 0) throw notFound();
    const stored = rows.filter((row) => row.seq !== null);
    const page = stored.slice(0, limit);
    const events = [];
    for (const row of page) events.push(await storedEventView(this.personalData, tenantId, row as StoredEvent));
    return { events, nextCursor: stored.length > limit ? page[page.length - 1]!.seq : null };
  }
}

/**
 * A message's properties are kept either as the profile sealed them (one value) or, for a call
 * the profile had no reason to open, as the ingest sealed its fields (properties among them).
 */
export async function openMessageProperties(
  personalData: PersonalDataCodec,
  tenantId: string,
  stored: JsonObject,
): Promise<{ value: JsonValue; erased: boolean }> {
  if (!Array.isArray(stored.fields)) return personalData.openValue(tenantId, stored);
  const opened = await personalData.open(tenantId, { [SEALED_FIELD]: stored });
  return { value: opened.data.properties ?? null, erased: opened.erased };
}

/** A profile's identities by kind, e-mail addresses opened (those whose key is gone left out). */
export async function openIdentities(
  personalData: PersonalDataCodec,
  tenantId: string,
  identities: readonly { kind: Kind; value: string; sealed: JsonObject | null }[],
): Promise<Record<Kind, string[]>> {
  const grouped: Record<Kind, string[]> = { userId: [], anonymousId: [], email: [] };
  for (const identity of identities) {
    if (identity.kind !== 'email') grouped[identity.kind].push(identity.value);
    else if (identity.sealed) {
      const opened = await personalData.openValue(tenantId, identity.sealed);
      if (typeof opened.value === 'string') grouped.email.push(opened.value);
    }
  }
  return grouped;
}

/** A profile's traits opened; those whose key is gone are left out. */
export async function openTraits(
  personalData: PersonalDataCodec,
  tenantId: string,
  stored: StoredTraits,
): Promise<Record<string, JsonValue>> {
  const traits: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(stored)) {
    const opened = await personalData.openValue(tenantId, value.v);
    if (!opened.erased) traits[name] = opened.value;
  }
  return traits;
}

/** A stored message of a profile, as pulse_profile_events keeps it. */
export interface StoredEvent {
  seq: string;
  message_id: string;
  kind: string;
  name: string | null;
  occurred_at: Date;
  received_at: Date;
  properties: JsonObject | null;
}

/** A stored message as reads show it: properties opened, null once their key is gone. */
export async function storedEventView(personalData: PersonalDataCodec, tenantId: string, row: StoredEvent) {
  const properties = row.properties ? await openMessageProperties(personalData, tenantId, row.properties) : undefined;
  return {
    messageId: row.message_id,
    type: row.kind,
    name: row.name,
    timestamp: row.occurred_at.toISOString(),
    receivedAt: row.received_at.toISOString(),
    properties: properties && !properties.erased ? properties.value : null,
  };
}
