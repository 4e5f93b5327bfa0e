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
}

/**
 * What the tenant's audiences are evaluated against, for each of `profileIds`, as of `now`: the
 * computed traits (windowed counts and sums from the points still in their window, last values,
 * first seen) and the profile traits the rules read, opened. One statement per kind of fact, for
 * all the profiles at once. A windowed trait of a profile with no event in its window is 0.
 */
export async function factsOf(
  rows: Rows,
  personalData: PersonalDataCodec,
  tenantId: string,
  profileIds: readonly string[],
  definitions: AudiencesState,
  now: Date,
): Promise<Map<string, FactsOfProfile>> {
  const computed = new Map<string, Record<string, JsonValue>>(profileIds.map((id) => [id, {}]));
  const set = (profileId: string, key: string, value: JsonValue) => {
    const values = computed.get(profileId);
    if (values) values[key] = value;
  };
  const traits = Object.entries(definitions.traits);
  const windowed = traits.flatMap(([key, d]) => (d.kind === 'count' || d.kind === 'sum' ? [[key, d] as const] : []));
  for (const id of profileIds) for (const [key] of windowed) set(id, key, 0);
  if (windowed.length > 0) {
    const found = await rows<{ profile_id: string; trait_key: string; n: number; total: number | null }>(
      `SELECT p.profile_id::text AS profile_id, p.trait_key, count(*)::int AS n, sum(p.value) AS total
       FROM pulse_trait_points p JOIN unnest($3::text[], $4::timestamptz[]) AS w(key, cutoff) ON w.key = p.trait_key AND p.occurred_at >= w.cutoff
       WHERE p.tenant_id = $1 AND p.profile_id = ANY($2::uuid[])
       GROUP BY p.profile_id, p.trait_key`,
      [tenantId, profileIds, windowed.map(([key]) => key), windowed.map(([, d]) => windowStart(d, now))],
    );
    for (const row of found) {
      const definition = definitions.traits[row.trait_key];
      set(row.profile_id, row.trait_key, definition?.kind === 'sum' ? (row.total ?? 0) : row.n);
    }
  }
  const last = traits.filter(([, d]) => d.kind === 'last').map(([key]) => key);
  if (last.length > 0) {
    const found = await rows<{ profile_id: string; trait_key: string; value: JsonValue }>(
      `SELECT profile_id::text AS profile_id, trait_key, value FROM pulse_trait_values
       WHERE tenant_id = $1 AND profile_id = ANY($2::uuid[]) AND trait_key = ANY($3::text[])`,
      [tenantId, profileIds, last],
    );
    for (const row of found) {
      const opened = await personalData.openValue(tenantId, row.value);
      if (!opened.erased) set(row.profile_id, row.trait_key, opened.value);
    }
  }
  const firstSeen = traits.filter(([, d]) => d.kind === 'firstSeen' && d.event !== undefined);
  if (firstSeen.length > 0) {
    const found = await rows<{ profile_id: string; event_name: string; first_seen: Date }>(
      `SELECT profile_id::text AS profile_id, event_name, first_seen FROM pulse_profile_counters
       WHERE tenant_id = $1 AND profile_id = ANY($2::uuid[]) AND event_name = ANY($3::text[])`,
      [tenantId, profileIds, firstSeen.map(([, d]) => (d as { event: string }).event)],
    );
    for (const row of found) {
      for (const [key, d] of firstSeen)
        if (d.kind === 'firstSeen' && d.event === row.event_name) set(row.profile_id, key, row.first_seen.toISOString());
    }
  }
  const profiles = await rows<{ profile_id: string; user_id: string | null; traits: StoredTraits; first_seen: Date | null }>(
    'SELECT profile_id::text AS profile_id, user_id, traits, first_seen FROM pulse_profiles WHERE tenant_id = $1 AND profile_id = ANY($2::uuid[])',
    [tenantId, profileIds],
  );
  const read = new Set(Object.values(definitions.audiences).flatMap((audience) => profileTraitsOf(audience.rule)));
  const facts = new Map<string, FactsOfProfile>();
  for (const profile of profiles) {
    for (const [key, d] of traits) {
      if (d.kind === 'firstSeen' && d.event === undefined && profile.first_seen)
        set(profile.profile_id, key, profile.first_seen.toISOString());
    }
    const opened: Record<string, JsonValue> = {};
    for (const name of read) {
      if (!Object.hasOwn(profile.traits, name)) continue;
      const value = await personalData.openValue(tenantId, profile.traits[name]!.v);
      if (!value.erased) opened[name] = value.value;
    }
    facts.set(profile.profile_id, { userId: profile.user_id, traits: opened, computed: computed.get(profile.profile_id) ?? {} });
  }
  return facts;
}

/** The earliest event time a windowed trait still counts at `now`. */
export function windowStart(definition: { readonly windowDays: number }, now: Date): string {
  return new Date(now.getTime() - definition.windowDays * DAY_MS).toISOString();
}
