import type { DataSource, EntityManager } from 'typeorm';
import type { EventEnvelope } from '#cqrs';
import type { AppendedEvents, JsonObject, JsonValue } from '#eventstore';
import { SEALED_FIELD, SubjectErasedError } from '#personal-data';
import type { Sighting } from '../identity/sightings';
import type { AudiencesState } from './audience.decider';
import { AUDIENCES_STREAM_PREFIX, type AudienceDefinitionEvent, type TraitDefinition } from './audience.events';
import { recordTransitions, rowsOf, type TransitionDeps } from './audience-transitions';
import { windowStart } from './profile-facts';

/** A message as it landed on its profile in this batch. */
export interface Landed {
  readonly tenantId: string;
  readonly profileId: string;
  readonly sighting: Sighting;
}

export interface Merge {
  readonly tenantId: string;
  readonly survivorId: string;
  readonly mergedId: string;
}

const DEFINITION_TYPES = new Set(['ComputedTraitDefined', 'ComputedTraitRemoved', 'AudienceDefined', 'AudienceRemoved']);
// Expired points deleted per trait and sweep: a sweep stays a short transaction, the next one takes the rest.
const SWEEP_BATCH = 5000;
/** Existing profiles evaluated per tenant and sweep for audiences defined since (see backfillPage). */
const BACKFILL_PAGE = 2000;

/**
 * Computed traits and audiences, kept by the profiles projection in its own transaction: it alone
 * knows on which profile each message lands and which profiles merge, in log order. Definitions
 * arrive in the same log, so a message is evaluated against the definitions of its time. Only
 * tenants with definitions cost anything beyond a cache lookup.
 */
export class AudienceEvaluator {
  private readonly definitions = new Map<string, AudiencesState | null>();

  constructor(private readonly deps: TransitionDeps) {}

  static isDefinition(envelope: EventEnvelope): boolean {
    return DEFINITION_TYPES.has(envelope.event.type) && envelope.streamName.startsWith(AUDIENCES_STREAM_PREFIX);
  }

  /** After a rolled-back transaction the cache may hold what never committed. */
  forget(): void {
    this.definitions.clear();
  }

  async applyDefinition(tx: EntityManager, envelope: EventEnvelope): Promise<void> {
    const tenantId = envelope.metadata.tenantId.toLowerCase();
    const event = envelope.event as AudienceDefinitionEvent;
    this.definitions.delete(tenantId);
    const kind = event.type === 'ComputedTraitDefined' || event.type === 'ComputedTraitRemoved' ? 'trait' : 'audience';
    const key = event.data.key;
    if (event.type === 'ComputedTraitDefined' || event.type === 'AudienceDefined') {
      await tx.query(
        `INSERT INTO pulse_audience_definitions (tenant_id, kind, key, definition) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, kind, key) DO UPDATE SET definition = excluded.definition`,
        [tenantId, kind, key, JSON.stringify(event.data.definition)],
      );
      // The profiles the tenant already has are evaluated by the sweep, a page at a time (see backfill).
      if (kind === 'audience')
        await tx.query(
          `INSERT INTO pulse_audience_backfills (tenant_id, audience_key, after_profile) VALUES ($1, $2, NULL)
           ON CONFLICT (tenant_id, audience_key) DO UPDATE SET after_profile = NULL`,
          [tenantId, key],
        );
      // A tenant's pages evaluate all its audiences: one cursor for all, from the start again.
      if (kind === 'audience') await tx.query('UPDATE pulse_audience_backfills SET after_profile = NULL WHERE tenant_id = $1', [tenantId]);
      return;
    }
    await tx.query('DELETE FROM pulse_audience_definitions WHERE tenant_id = $1 AND kind = $2 AND key = $3', [tenantId, kind, key]);
    // What a removed definition kept goes with it (a key defined again starts afresh); members leave without messages.
    const tables = kind === 'trait' ? ['pulse_trait_points', 'pulse_trait_values'] : [];
    for (const table of tables) await tx.query(`DELETE FROM ${table} WHERE tenant_id = $1 AND trait_key = $2`, [tenantId, key]);
    if (kind === 'audience')
      for (const table of ['pulse_audience_members', 'pulse_audience_backfills'])
        await tx.query(`DELETE FROM ${table} WHERE tenant_id = $1 AND audience_key = $2`, [tenantId, key]);
  }

  async definitionsOf(tx: EntityManager, tenantId: string): Promise<AudiencesState | null> {
    const cached = this.definitions.get(tenantId);
    if (cached !== undefined) return cached;
    const loaded = await loadDefinitions(rowsOf(tx), tenantId);
    this.definitions.set(tenantId, loaded);
    return loaded;
  }

  /**
   * A batch's share: merged profiles' traits move to their survivor, the batch's messages add their
   * points and last values, then every profile they touched (and every survivor) is evaluated.
   */
  async record(tx: EntityManager, landed: readonly Landed[], merges: readonly Merge[], now: Date): Promise<AppendedEvents[]> {
    const tenants = new Set([...landed.map((l) => l.tenantId), ...merges.map((m) => m.tenantId)]);
    const appended: AppendedEvents[] = [];
    for (const tenantId of tenants) {
      const definitions = await this.definitionsOf(tx, tenantId);
      if (!definitions) continue;
      const tenantMerges = merges.filter((m) => m.tenantId === tenantId);
      for (const merge of tenantMerges) await moveTraits(tx, merge);
      const live = landed.filter((l) => l.tenantId === tenantId && !l.sighting.computed);
      await this.addPoints(tx, tenantId, definitions, live);
      const merged = new Set(tenantMerges.map((m) => m.mergedId));
      const onlyHistory = new Map<string, boolean>();
      for (const l of live) onlyHistory.set(l.profileId, (onlyHistory.get(l.profileId) ?? true) && l.sighting.historical === true);
      const profileIds = [...live.map((l) => l.profileId), ...tenantMerges.map((m) => m.survivorId)].filter((id) => !merged.has(id));
      appended.push(
        ...(await recordTransitions(this.deps, tx, definitions, {
          tenantId,
          profileIds,
          historical: (profileId) => onlyHistory.get(profileId) ?? false,
          now,
        })),
      );
    }
    return appended;
  }

  private async addPoints(tx: EntityManager, tenantId: string, definitions: AudiencesState, live: readonly Landed[]): Promise<void> {
    const byEvent = new Map<string, [string, TraitDefinition][]>();
    for (const entry of Object.entries(definitions.traits)) {
      const event = entry[1].event;
      if (entry[1].kind !== 'firstSeen' && event !== undefined) byEvent.set(event, [...(byEvent.get(event) ?? []), entry]);
    }
    const points: { profileId: string; key: string; at: string; value: number | null }[] = [];
    const values: { profileId: string; key: string; at: string; value: JsonValue }[] = [];
    for (const { profileId, sighting } of live) {
      const traits = sighting.kind === 'track' && sighting.name !== null ? byEvent.get(sighting.name) : undefined;
      if (!traits) continue;
      const properties = traits.some(([, d]) => d.kind !== 'count') ? await this.propertiesOf(tenantId, sighting) : {};
      for (const [key, d] of traits) {
        // Register's and login's own events (no source on them) are pulse's servers' word.
        if ('sources' in d && d.sources && !d.sources.includes(sighting.sourceKind ?? 'server')) continue;
        const value = 'property' in d && Object.hasOwn(properties, d.property) ? properties[d.property] : undefined;
        if (d.kind === 'count') points.push({ profileId, key, at: sighting.occurredAt, value: null });
        if (d.kind === 'sum') points.push({ profileId, key, at: sighting.occurredAt, value: typeof value === 'number' ? value : null });
        if (d.kind === 'last' && value !== undefined) {
          const sealed = await this.sealed(tenantId, sighting.subject, value);
          if (sealed !== undefined) values.push({ profileId, key, at: sighting.occurredAt, value: sealed });
        }
      }
    }
    if (points.length === 0 && values.length === 0) return;
    // One statement for both tables. Of a batch's values for one trait of one profile the latest by
    // event time wins (the later in the log on a tie), and only over a stored one no later than it.
    await tx.query(
      `WITH points AS (
         INSERT INTO pulse_trait_points (tenant_id, profile_id, trait_key, occurred_at, value)
         SELECT $1::uuid, * FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::double precision[]))
       INSERT INTO pulse_trait_values (tenant_id, profile_id, trait_key, value, at)
       SELECT DISTINCT ON (v.profile_id, v.key) $1::uuid, v.profile_id, v.key, v.value, v.at
       FROM unnest($6::uuid[], $7::text[], $8::jsonb[], $9::timestamptz[]) WITH ORDINALITY AS v(profile_id, key, value, at, n)
       ORDER BY v.profile_id, v.key, v.at DESC, v.n DESC
       ON CONFLICT (tenant_id, profile_id, trait_key) DO UPDATE SET value = excluded.value, at = excluded.at
       WHERE excluded.at >= pulse_trait_values.at`,
      [
        tenantId,
        points.map((p) => p.profileId),
        points.map((p) => p.key),
        points.map((p) => p.at),
        points.map((p) => p.value),
        values.map((v) => v.profileId),
        values.map((v) => v.key),
        values.map((v) => JSON.stringify(v.value)),
        values.map((v) => v.at),
      ],
    );
  }

  /** Sealed under the message's subject, as traits are; nothing once the subject is forgotten (its key is gone). */
  private async sealed(tenantId: string, subject: string, value: JsonValue): Promise<JsonValue | undefined> {
    try {
      return (await this.deps.personalData.sealValue(tenantId, subject, value)) as unknown as JsonValue;
    } catch (error) {
      if (error instanceof SubjectErasedError) return undefined;
      throw error;
    }
  }

  /** The message's properties in clear: the ingest sealed most of them, and only these traits need them opened. */
  private async propertiesOf(tenantId: string, sighting: Sighting): Promise<JsonObject> {
    if (!sighting.sealedFields) return sighting.properties ?? {};
    const opened = await this.deps.personalData.open(tenantId, { [SEALED_FIELD]: sighting.sealedFields });
    const properties = opened.data.properties;
    return typeof properties === 'object' && properties !== null && !Array.isArray(properties) ? properties : {};
  }

  /**
   * Windows move without events: points that left their window are deleted, and the profiles they
   * belonged to evaluated again, so a person whose last order fell out of "3 orders in 30 days"
   * leaves, with an Audience Exited message, within one sweep interval. Answers the profiles evaluated.
   *
   * One short transaction per tenant, each bounded (SWEEP_BATCH points per trait, BACKFILL_PAGE
   * profiles): a tenant with many profiles, or one that redefines audiences in a loop, holds its own
   * rows for its own page only, and a tenant whose sweep fails does not stop the others' windows.
   */
  async sweep(dataSource: DataSource, now: Date): Promise<number> {
    const tenants: { tenant_id: string }[] = await dataSource.query(
      `SELECT tenant_id::text AS tenant_id FROM pulse_audience_definitions WHERE kind = 'trait' AND definition->>'kind' IN ('count', 'sum')
       UNION SELECT tenant_id::text FROM pulse_audience_backfills`,
    );
    let evaluated = 0;
    let failure: unknown;
    for (const { tenant_id: tenantId } of tenants) {
      try {
        evaluated += await this.sweepTenant(dataSource, tenantId, now);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    return evaluated;
  }

  private async sweepTenant(dataSource: DataSource, tenantId: string, now: Date): Promise<number> {
    let appended: AppendedEvents[] = [];
    let evaluated = 0;
    await dataSource.transaction(async (tx) => {
      const windowed: { key: string; definition: { windowDays: number } }[] = await tx.query(
        `SELECT key, definition FROM pulse_audience_definitions
         WHERE tenant_id = $1 AND kind = 'trait' AND definition->>'kind' IN ('count', 'sum') ORDER BY key`,
        [tenantId],
      );
      const profiles = new Set<string>();
      for (const row of windowed) {
        const expired: { profile_id: string }[] = await tx.query(
          // A SELECT over the DELETE: TypeORM answers a bare DELETE … RETURNING as [rows, count].
          `WITH gone AS (
             DELETE FROM pulse_trait_points WHERE ctid IN (
               SELECT ctid FROM pulse_trait_points WHERE tenant_id = $1 AND trait_key = $2 AND occurred_at < $3 LIMIT ${SWEEP_BATCH})
             RETURNING profile_id)
           SELECT DISTINCT profile_id::text AS profile_id FROM gone`,
          [tenantId, row.key, windowStart(row.definition, now)],
        );
        for (const { profile_id } of expired) profiles.add(profile_id);
      }
      // An audience defined since the last sweep: the next page of the tenant's existing profiles.
      for (const profileId of await backfillPage(tx, tenantId)) profiles.add(profileId);
      if (profiles.size === 0) return;
      const definitions = await loadDefinitions(rowsOf(tx), tenantId);
      if (!definitions) return;
      // Only profiles that still exist, held against an erasure until this commits (see erase in the
      // profiles projection): evaluating one it deleted meanwhile would write its membership back.
      const live: { profile_id: string }[] = await tx.query(
        `SELECT profile_id::text AS profile_id FROM pulse_profiles
         WHERE tenant_id = $1 AND profile_id = ANY($2::uuid[]) AND merged_into IS NULL ORDER BY profile_id FOR KEY SHARE`,
        [tenantId, [...profiles]],
      );
      if (live.length === 0) return;
      evaluated = live.length;
      const profileIds = live.map((row) => row.profile_id);
      appended = await recordTransitions(this.deps, tx, definitions, { tenantId, profileIds, historical: () => false, now });
    });
    if (appended.length > 0) this.deps.store.notifyCommitted?.(appended);
    return evaluated;
  }
}

/**
 * A newly defined audience applies to the profiles the tenant already has, not only to those that
 * send a message next: each sweep takes the tenant's next BACKFILL_PAGE profiles while it has an
 * audience to fill (all its audiences are evaluated for them, which changes nothing for the others)
 * and moves its cursor on; the tenant is done when a page comes back short. People who qualify
 * enter with a live Audience Entered message, as they would have on their next event.
 */
async function backfillPage(tx: EntityManager, tenantId: string): Promise<string[]> {
  const pending: { after_profile: string | null }[] = await tx.query(
    `SELECT CASE WHEN bool_or(after_profile IS NULL) THEN NULL ELSE min(after_profile::text) END AS after_profile
     FROM pulse_audience_backfills WHERE tenant_id = $1 HAVING count(*) > 0`,
    [tenantId],
  );
  if (pending.length === 0) return [];
  const page: { profile_id: string }[] = await tx.query(
    `SELECT profile_id::text AS profile_id FROM pulse_profiles
     WHERE tenant_id = $1 AND merged_into IS NULL AND ($2::uuid IS NULL OR profile_id > $2::uuid)
     ORDER BY profile_id LIMIT ${BACKFILL_PAGE}`,
    [tenantId, pending[0]!.after_profile],
  );
  if (page.length < BACKFILL_PAGE) await tx.query('DELETE FROM pulse_audience_backfills WHERE tenant_id = $1', [tenantId]);
  else await tx.query('UPDATE pulse_audience_backfills SET after_profile = $2 WHERE tenant_id = $1', [tenantId, page.at(-1)!.profile_id]);
  return page.map((row) => row.profile_id);
}

async function moveTraits(tx: EntityManager, merge: Merge): Promise<void> {
  const args = [merge.tenantId, merge.survivorId, merge.mergedId];
  await tx.query('UPDATE pulse_trait_points SET profile_id = $2 WHERE tenant_id = $1 AND profile_id = $3', args);
  await tx.query(
    `WITH moved AS (DELETE FROM pulse_trait_values WHERE tenant_id = $1 AND profile_id = $3 RETURNING trait_key, value, at)
     INSERT INTO pulse_trait_values (tenant_id, profile_id, trait_key, value, at) SELECT $1::uuid, $2::uuid, trait_key, value, at FROM moved
     ON CONFLICT (tenant_id, profile_id, trait_key) DO UPDATE SET value = excluded.value, at = excluded.at WHERE excluded.at > pulse_trait_values.at`,
    args,
  );
  // The merged profile is no more: the survivor, evaluated next, is what is in or out.
  await tx.query('DELETE FROM pulse_audience_members WHERE tenant_id = $1 AND profile_id = $2', [merge.tenantId, merge.mergedId]);
}

/** The tenant's definitions from the read model, or null when it has none. */
export async function loadDefinitions(
  rows: <T>(sql: string, params: readonly unknown[]) => Promise<T[]>,
  tenantId: string,
): Promise<AudiencesState | null> {
  const found = await rows<{ kind: string; key: string; definition: never }>(
    'SELECT kind, key, definition FROM pulse_audience_definitions WHERE tenant_id = $1',
    [tenantId],
  );
  if (found.length === 0) return null;
  const traits: Record<string, TraitDefinition> = {};
  const audiences: AudiencesState['audiences'] & Record<string, never> = {};
  for (const row of found) (row.kind === 'trait' ? traits : (audiences as Record<string, unknown>))[row.key] = row.definition;
  return { traits, audiences };
}
