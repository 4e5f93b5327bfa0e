import type { Pool } from 'pg';
import type { JsonObject, JsonValue } from '../../../../libs/eventstore/src/event-store';
import { blindIndex } from '../../../../libs/personal-data/src/blind-index';
import { SEALED_FIELD, type PersonalDataCodec } from '../../../../libs/personal-data/src/personal-data-codec';
import { ProblemError } from '../../../../libs/platform/src/problem-details';
import type { StoredTraits } from '../identity/identity-graph';

type Kind = 'userId' | 'anonymousId' | 'email';

const notFound = () => new ProblemError({ status: 404, type: 'profile-not-found', title: 'Profile not found', detail: 'no profile has this identity' });

/** The unified profile, from the read model: sealed values opened on the way out. */
export class ProfileReader {
  constructor(
    private readonly pool: Pool,
    private readonly personalData: PersonalDataCodec,
    private readonly blindIndexKey: Buffer,
  ) {}

  private async profileIdOf(tenantId: string, kind: Kind, value: string): Promise<string> {
    const key = kind === 'email' ? blindIndex(this.blindIndexKey, tenantId, 'email', value) : value;
    const { rows } = await this.pool.query<{ profile_id: string }>(
      'SELECT profile_id FROM pulse_identities WHERE tenant_id = $1 AND kind = $2 AND value = $3',
      [tenantId, kind, key],
    );
    if (!rows[0]) throw notFound();
    return rows[0].profile_id;
  }

  async profile(tenantId: string, kind: Kind, value: string) {
    const profileId = await this.profileIdOf(tenantId, kind, value);
    const [profiles, identities, counters] = await Promise.all([
      this.pool.query<{ user_id: string | null; traits: StoredTraits; event_count: string; first_seen: Date | null; last_seen: Date | null }>(
        'SELECT user_id, traits, event_count, first_seen, last_seen FROM pulse_profiles WHERE tenant_id = $1 AND profile_id = $2',
        [tenantId, profileId],
      ),
      this.pool.query<{ kind: Kind; value: string; sealed_value: JsonObject | null }>(
        'SELECT kind, value, sealed_value FROM pulse_identities WHERE tenant_id = $1 AND profile_id = $2 ORDER BY kind, value',
        [tenantId, profileId],
      ),
      this.pool.query<{ event_name: string; count: string; first_seen: Date; last_seen: Date }>(
        'SELECT event_name, count, first_seen, last_seen FROM pulse_profile_counters WHERE tenant_id = $1 AND profile_id = $2 ORDER BY event_name',
        [tenantId, profileId],
      ),
    ]);
    const profile = profiles.rows[0];
    if (!profile) throw notFound();
    const grouped: Record<Kind, string[]> = { userId: [], anonymousId: [], email: [] };
    for (const identity of identities.rows) {
      if (identity.kind !== 'email') grouped[identity.kind].push(identity.value);
      else if (identity.sealed_value) {
        const opened = await this.personalData.openValue(tenantId, identity.sealed_value);
        if (typeof opened.value === 'string') grouped.email.push(opened.value);
      }
    }
    const traits: Record<string, JsonValue> = {};
    for (const [name, stored] of Object.entries(profile.traits)) {
      const opened = await this.personalData.openValue(tenantId, stored.v);
      if (!opened.erased) traits[name] = opened.value;
    }
    return {
      profileId,
      userId: profile.user_id,
      identities: grouped,
      traits,
      counters: {
        total: Number(profile.event_count),
        firstSeen: profile.first_seen?.toISOString() ?? null,
        lastSeen: profile.last_seen?.toISOString() ?? null,
        events: Object.fromEntries(counters.rows.map((row) => [row.event_name, { count: Number(row.count), firstSeen: row.first_seen.toISOString(), lastSeen: row.last_seen.toISOString() }])),
      },
    };
  }

  /** Newest first; the cursor is the position after which the next page starts. */
  async events(tenantId: string, kind: Kind, value: string, cursor: string | undefined, limit: number) {
    const profileId = await this.profileIdOf(tenantId, kind, value);
    const { rows } = await this.pool.query<{ seq: string; message_id: string; kind: string; name: string | null; occurred_at: Date; received_at: Date; properties: JsonObject | null }>(
      `SELECT seq::text, message_id, kind, name, occurred_at, received_at, properties FROM pulse_profile_events
       WHERE tenant_id = $1 AND profile_id = $2 AND ($3::bigint IS NULL OR seq < $3::bigint)
       ORDER BY seq DESC LIMIT $4`,
      [tenantId, profileId, cursor ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const events = [];
    for (const row of page) {
      const properties = row.properties ? await this.openProperties(tenantId, row.properties) : undefined;
      events.push({
        messageId: row.message_id,
        type: row.kind,
        name: row.name,
        timestamp: row.occurred_at.toISOString(),
        receivedAt: row.received_at.toISOString(),
        properties: properties && !properties.erased ? properties.value : null,
      });
    }
    return { events, nextCursor: rows.length > limit ? page[page.length - 1]!.seq : null };
  }

  /**
   * A message's properties are kept either as the profile sealed them (one value) or, for a call
   * the profile had no reason to open, as the ingest sealed its fields (properties among them).
   */
  private async openProperties(tenantId: string, stored: JsonObject): Promise<{ value: JsonValue; erased: boolean }> {
    if (!Array.isArray(stored.fields)) return this.personalData.openValue(tenantId, stored);
    const opened = await this.personalData.open(tenantId, { [SEALED_FIELD]: stored });
    return { value: opened.data.properties ?? null, erased: opened.erased };
  }
}
