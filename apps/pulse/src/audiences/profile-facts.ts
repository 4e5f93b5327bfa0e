import type { JsonValue } from '#eventstore';
import type { PersonalDataCodec } from '#personal-data';
import type { StoredTraits } from '../identity/identity-graph';
import { profileTraitsOf, type ProfileFacts } from './audience-rule';
import type { AudiencesState } from './audience.decider';

/** A query on the projection's transaction or on the pool, answering rows. */
export type Rows = <T>(sql: string, params: readonly unknown[]) => Promise<T[]>;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface FactsOfProfile extends ProfileFacts {
  readonly userId: string | null;
  /** One of its anonymousIds when it has no userId: what a message about it carries. */
  readonly anonymousId: string | null;
  /** Its membership rows by audience key (in the database's order of keys), left and in alike (the transition count makes the message id). */
  readonly memberships: ReadonlyMap<string, { readonly member: boolean; readonly transitions: number }>;
}

/** One row of FACTS_STATEMENT: `fact` says which of the other columns it fills. */
interface FactRow {
  readonly fact: 'window' | 'last' | 'first' | 'member' | 'profile';
  readonly profile_id: string;
  readonly key: string | null;
  readonly n: number | null;
  readonly total: number | null;
  readonly value: JsonValue | null;
  readonly at: Date | null;
  readonly user_id: string | null;
  readonly anonymous_id: string | null;
}

/**
 * Every fact the evaluation reads, for all the profiles, in one statement and so one snapshot:
 * windowed counts and sums ($3 keys from $4 cutoffs), last values ($5 keys), first sightings of
 * events ($6 names), membership rows, and the profiles themselves. Each was a round trip of its own
 * (five, and a sixth for the ids of the messages), which the projection pays in every transaction
 * that lands a message of a tenant with audiences.
 */
const FACTS_STATEMENT = `
  SELECT 'window' AS fact, p.profile_id::text AS profile_id, p.trait_key AS key, count(*)::int AS n, sum(p.value) AS total,
    NULL::jsonb AS value, NULL::timestamptz AS at, NULL::text AS user_id, NULL::text AS anonymous_id
  FROM pulse_trait_points p JOIN unnest($3::text[], $4::timestamptz[]) AS w(key, cutoff) ON w.key = p.trait_key AND p.occurred_at >= w.cutoff
  WHERE p.tenant_id = $1 AND p.profile_id = ANY($2::uuid[])
  GROUP BY p.profile_id, p.trait_key
  UNION ALL
  SELECT 'last', profile_id::text, trait_key, NULL, NULL, value, NULL, NULL, NULL FROM pulse_trait_values
  WHERE tenant_id = $1 AND profile_id = ANY($2::uuid[]) AND trait_key = ANY($5::text[])
  UNION ALL
  SELECT 'first', profile_id::text, event_name, NULL, NULL, NULL, first_seen, NULL, NULL FROM pulse_profile_counters
  WHERE tenant_id = $1 AND profile_id = ANY($2::uuid[]) AND event_name = ANY($6::text[])
  UNION ALL
  SELECT 'member', profile_id::text, audience_key, member::int, transitions, NULL, NULL, NULL, NULL FROM pulse_audience_members
  WHERE tenant_id = $1 AND profile_id = ANY($2::uuid[])
  UNION ALL
  SELECT 'profile', p.profile_id::text, NULL, NULL, NULL, p.traits, p.first_seen, p.user_id,
    CASE WHEN p.user_id IS NULL THEN
      (SELECT min(i.value) FROM pulse_identities i WHERE i.tenant_id = p.tenant_id AND i.profile_id = p.profile_id AND i.kind = 'anonymousId')
    END
  FROM pulse_profiles p WHERE p.tenant_id = $1 AND p.profile_id = ANY($2::uuid[])
  ORDER BY key`;

/**
 * What the tenant's audiences are evaluated against, for each of `profileIds`, as of `now`: the
 * computed traits (windowed counts and sums from the points still in their window, last values,
 * first seen), the profile traits the rules read, opened, and the profile's memberships. A windowed
 * trait of a profile with no event in its window is 0. Profiles that do not exist are left out.
 */
export async function factsOf(
  rows: Rows,
  personalData: PersonalDataCodec,
  tenantId: string,
  profileIds: readonly string[],
  definitions: AudiencesState,
  now: Date,
): Promise<Map<string, FactsOfProfile>> {
  const traits = Object.entries(definitions.traits);
  const windowed = traits.flatMap(([key, d]) => (d.kind === 'count' || d.kind === 'sum' ? [[key, d] as const] : []));
  const last = traits.filter(([, d]) => d.kind === 'last').map(([key]) => key);
  const firstSeen = traits.flatMap(([key, d]) => (d.kind === 'firstSeen' && d.event !== undefined ? [[key, d.event] as const] : []));
  const found = await rows<FactRow>(FACTS_STATEMENT, [
    tenantId,
    profileIds,
    windowed.map(([key]) => key),
    windowed.map(([, d]) => windowStart(d, now)),
    last,
    firstSeen.map(([, event]) => event),
  ]);
  const computed = new Map<string, Record<string, JsonValue>>(
    profileIds.map((id) => [id, Object.fromEntries(windowed.map(([key]) => [key, 0]))]),
  );
  const memberships = new Map<string, Map<string, { member: boolean; transitions: number }>>();
  const set = (profileId: string, key: string, value: JsonValue) => {
    const values = computed.get(profileId);
    if (values) values[key] = value;
  };
  const profiles: FactRow[] = [];
  for (const row of found) {
    if (row.fact === 'window') set(row.profile_id, row.key!, definitions.traits[row.key!]?.kind === 'sum' ? (row.total ?? 0) : row.n!);
    if (row.fact === 'last') {
      const opened = await personalData.openValue(tenantId, row.value!);
      if (!opened.erased) set(row.profile_id, row.key!, opened.value);
    }
    if (row.fact === 'first') for (const [key, event] of firstSeen) if (event === row.key) set(row.profile_id, key, row.at!.toISOString());
    if (row.fact === 'member') {
      const held = memberships.get(row.profile_id) ?? new Map<string, { member: boolean; transitions: number }>();
      memberships.set(row.profile_id, held.set(row.key!, { member: row.n === 1, transitions: row.total! }));
    }
    if (row.fact === 'profile') profiles.push(row);
  }
  const read = new Set(Object.values(definitions.audiences).flatMap((audience) => profileTraitsOf(audience.rule)));
  const facts = new Map<string, FactsOfProfile>();
  for (const profile of profiles) {
    for (const [key, d] of traits) {
      if (d.kind === 'firstSeen' && d.event === undefined && profile.at) set(profile.profile_id, key, profile.at.toISOString());
    }
    const stored = (profile.value ?? {}) as StoredTraits;
    const opened: Record<string, JsonValue> = {};
    for (const name of read) {
      if (!Object.hasOwn(stored, name)) continue;
      const value = await personalData.openValue(tenantId, stored[name]!.v);
      if (!value.erased) opened[name] = value.value;
    }
    facts.set(profile.profile_id, {
      userId: profile.user_id,
      anonymousId: profile.anonymous_id,
      traits: opened,
      computed: computed.get(profile.profile_id) ?? {},
      memberships: memberships.get(profile.profile_id) ?? new Map(),
    });
  }
  return facts;
}

/** The earliest event time a windowed trait still counts at `now`. */
export function windowStart(definition: { readonly windowDays: number }, now: Date): string {
  return new Date(now.getTime() - definition.windowDays * DAY_MS).toISOString();
}
