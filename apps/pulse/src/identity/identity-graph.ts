import type { EntityManager } from 'typeorm';
import type { JsonObject } from '../../../../libs/eventstore/src/event-store';
import type { Identifier, KnownIdentifier, ProfileMerge } from './identity.decider';

/** A trait value sealed under its subject's key, with the event time that set it. */
export type StoredTraits = Record<string, { v: JsonObject; at: string }>;

/** The identity graph's tables, seen from the profiles projection (always inside its transaction). */
export class IdentityGraph {
  constructor(
    private readonly tx: EntityManager,
    private readonly tenantId: string,
  ) {}

  async known(identifiers: readonly Identifier[]): Promise<KnownIdentifier[]> {
    if (identifiers.length === 0) return [];
    const rows: { kind: string; value: string; profile_id: string; user_id: string | null; merges: number }[] = await this.tx.query(
      `SELECT i.kind, i.value, i.profile_id, p.user_id, i.merges
       FROM pulse_identities i JOIN pulse_profiles p ON p.tenant_id = i.tenant_id AND p.profile_id = i.profile_id
       WHERE i.tenant_id = $1 AND (i.kind, i.value) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
      [this.tenantId, identifiers.map((i) => i.kind), identifiers.map((i) => i.value)],
    );
    return rows.map((row) => ({ kind: row.kind as Identifier['kind'], value: row.value, profileId: row.profile_id, profileUserId: row.user_id, merges: row.merges }));
  }

  async createProfile(profileId: string, userId: string | null): Promise<void> {
    await this.tx.query('INSERT INTO pulse_profiles (tenant_id, profile_id, user_id) VALUES ($1, $2, $3)', [this.tenantId, profileId, userId]);
  }

  async setUserId(profileId: string, userId: string): Promise<void> {
    await this.tx.query('UPDATE pulse_profiles SET user_id = $3 WHERE tenant_id = $1 AND profile_id = $2', [this.tenantId, profileId, userId]);
  }

  async link(profileId: string, identifier: Identifier, sealedValue: JsonObject | null): Promise<void> {
    await this.tx.query(
      `INSERT INTO pulse_identities (tenant_id, kind, value, profile_id, sealed_value) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING`,
      [this.tenantId, identifier.kind, identifier.value, profileId, sealedValue],
    );
  }

  /** Moves everything of the merged profile onto the survivor; the merged one only points there. */
  async merge(merge: ProfileMerge): Promise<void> {
    const { survivorId, mergedId, via } = merge;
    const args = [this.tenantId, survivorId, mergedId];
    await this.tx.query('UPDATE pulse_identities SET profile_id = $2 WHERE tenant_id = $1 AND profile_id = $3', args);
    await this.tx.query('UPDATE pulse_identities SET merges = merges + 1 WHERE tenant_id = $1 AND kind = $2 AND value = $3', [this.tenantId, via.kind, via.value]);
    await this.tx.query('UPDATE pulse_profile_events SET profile_id = $2 WHERE tenant_id = $1 AND profile_id = $3', args);
    await this.tx.query(
      `INSERT INTO pulse_profile_counters (tenant_id, profile_id, event_name, count, first_seen, last_seen)
       SELECT tenant_id, $2, event_name, count, first_seen, last_seen FROM pulse_profile_counters WHERE tenant_id = $1 AND profile_id = $3
       ON CONFLICT (tenant_id, profile_id, event_name) DO UPDATE SET count = pulse_profile_counters.count + excluded.count,
         first_seen = least(pulse_profile_counters.first_seen, excluded.first_seen), last_seen = greatest(pulse_profile_counters.last_seen, excluded.last_seen)`,
      args,
    );
    await this.tx.query('DELETE FROM pulse_profile_counters WHERE tenant_id = $1 AND profile_id = $2', [this.tenantId, mergedId]);
    const [merged] = await this.profiles([mergedId]);
    const [survivor] = await this.profiles([survivorId]);
    await this.tx.query(
      `UPDATE pulse_profiles s SET user_id = coalesce(s.user_id, m.user_id), event_count = s.event_count + m.event_count,
         first_seen = least(s.first_seen, m.first_seen), last_seen = greatest(s.last_seen, m.last_seen), traits = $4
       FROM pulse_profiles m WHERE s.tenant_id = $1 AND s.profile_id = $2 AND m.tenant_id = $1 AND m.profile_id = $3`,
      [...args, JSON.stringify(mergeTraits(survivor?.traits ?? {}, merged?.traits ?? {}))],
    );
    await this.tx.query(
      `UPDATE pulse_profiles SET merged_into = $2, traits = '{}'::jsonb, event_count = 0, user_id = NULL WHERE tenant_id = $1 AND profile_id = $3`,
      args,
    );
  }

  async profiles(profileIds: readonly string[]): Promise<{ profileId: string; traits: StoredTraits }[]> {
    const rows: { profile_id: string; traits: StoredTraits }[] = await this.tx.query(
      'SELECT profile_id, traits FROM pulse_profiles WHERE tenant_id = $1 AND profile_id = ANY($2::uuid[])',
      [this.tenantId, profileIds],
    );
    return rows.map((row) => ({ profileId: row.profile_id, traits: row.traits }));
  }

  /** One round trip: the event row, its counter and the profile's totals and traits. */
  async record(profileId: string, entry: { messageId: string; kind: string; name: string | null; occurredAt: string; receivedAt: string; properties: JsonObject | null; traits: StoredTraits | null }): Promise<void> {
    const { messageId, kind, name, occurredAt, receivedAt, properties, traits } = entry;
    await this.tx.query(
      `WITH event AS (
         INSERT INTO pulse_profile_events (tenant_id, profile_id, message_id, kind, name, occurred_at, received_at, properties)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING 1),
       counter AS (
         INSERT INTO pulse_profile_counters (tenant_id, profile_id, event_name, count, first_seen, last_seen) VALUES ($1, $2, $9, 1, $6, $6)
         ON CONFLICT (tenant_id, profile_id, event_name) DO UPDATE SET count = pulse_profile_counters.count + 1,
           first_seen = least(pulse_profile_counters.first_seen, excluded.first_seen), last_seen = greatest(pulse_profile_counters.last_seen, excluded.last_seen)
         RETURNING 1)
       UPDATE pulse_profiles p SET event_count = event_count + 1, first_seen = least(first_seen, $6::timestamptz),
         last_seen = greatest(last_seen, $6::timestamptz),
         traits = CASE WHEN $10::jsonb IS NULL THEN p.traits ELSE (${MERGE_TRAITS_SQL}) END
       WHERE tenant_id = $1 AND profile_id = $2`,
      [this.tenantId, profileId, messageId, kind, name, occurredAt, receivedAt, properties, name ?? kind, traits ? JSON.stringify(traits) : null],
    );
  }
}

/** mergeTraits in SQL, for the hot path: per trait, the value with the later event time wins. */
const MERGE_TRAITS_SQL = `SELECT coalesce(jsonb_object_agg(key, CASE WHEN n.value IS NULL THEN o.value WHEN o.value IS NULL THEN n.value
    WHEN (o.value->>'at') > (n.value->>'at') THEN o.value ELSE n.value END), '{}'::jsonb)
  FROM jsonb_each(p.traits) o FULL JOIN jsonb_each($10::jsonb) n USING (key)`;

/** Traits merge by event time: a value set later wins, whichever message arrived last. */
export function mergeTraits(into: StoredTraits, from: StoredTraits): StoredTraits {
  const merged: StoredTraits = { ...into };
  for (const [name, value] of Object.entries(from)) {
    const existing = merged[name];
    if (!existing || existing.at <= value.at) merged[name] = value;
  }
  return merged;
}
