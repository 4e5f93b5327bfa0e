import type { EntityManager } from 'typeorm';
import type { JsonObject, JsonValue } from '#eventstore';
import type { PersonalDataCodec } from '#personal-data';
import { jsonObjectFragments, type ExportIdentities } from '#contracts';
import { openIdentities, openTraits, storedEventView, type StoredEvent, type StoredProfile } from './profile-reader';

/** Tracked events read per query: a person with years of history is written out a page at a time. */
const EVENTS_PAGE = 1000;

/**
 * Pulse's section of an export: every profile any of the identities resolves to (as an erasure
 * finds them), with its identities, traits and counters, then every tracked event those profiles
 * hold, oldest first, properties opened. Values whose key is gone are left out, as reads do.
 */
export function pulseSection(personalData: PersonalDataCodec) {
  return (tx: EntityManager, tenantId: string, identities: ExportIdentities): AsyncIterable<string> => {
    const profileIds = (async () => {
      const rows: { profile_id: string }[] = await tx.query(
        `SELECT DISTINCT profile_id::text FROM pulse_identities
          WHERE tenant_id = $1 AND ((kind = 'userId' AND value = ANY($2)) OR (kind = 'anonymousId' AND value = ANY($3)) OR (kind = 'email' AND value = ANY($4)))
          ORDER BY 1`,
        [tenantId, identities.userIds, identities.anonymousIds, identities.emailIndexes],
      );
      return rows.map((row) => row.profile_id);
    })();

    async function* profiles(): AsyncGenerator<JsonValue[]> {
      const ids = await profileIds;
      const rows: StoredProfile[] = await tx.query(
        'SELECT profile_id::text, user_id, traits, event_count::text, first_seen, last_seen FROM pulse_profiles WHERE tenant_id = $1 AND profile_id = ANY($2) ORDER BY profile_id',
        [tenantId, ids],
      );
      for (const row of rows) {
        const known: { kind: 'userId' | 'anonymousId' | 'email'; value: string; sealed: JsonObject | null }[] = await tx.query(
          'SELECT kind, value, sealed_value AS sealed FROM pulse_identities WHERE tenant_id = $1 AND profile_id = $2 ORDER BY kind, value',
          [tenantId, row.profile_id],
        );
        const identities = await openIdentities(personalData, tenantId, known);
        const traits = await openTraits(personalData, tenantId, row.traits);
        const counters: { event_name: string; count: string; first_seen: Date; last_seen: Date }[] = await tx.query(
          'SELECT event_name, count::text, first_seen, last_seen FROM pulse_profile_counters WHERE tenant_id = $1 AND profile_id = $2 ORDER BY event_name',
          [tenantId, row.profile_id],
        );
        yield [
          {
            profileId: row.profile_id,
            userId: row.user_id,
            identities: { userIds: identities.userId, anonymousIds: identities.anonymousId, emails: identities.email },
            traits,
            eventCount: Number(row.event_count),
            firstSeen: row.first_seen?.toISOString() ?? null,
            lastSeen: row.last_seen?.toISOString() ?? null,
            counters: counters.map((counter) => ({
              event: counter.event_name,
              count: Number(counter.count),
              firstSeen: counter.first_seen.toISOString(),
              lastSeen: counter.last_seen.toISOString(),
            })),
          },
        ];
      }
    }

    async function* events(): AsyncGenerator<JsonValue[]> {
      for (const profileId of await profileIds) {
        for (let after = '0'; ;) {
          const rows: StoredEvent[] = await tx.query(
            // seq as it is (int8 arrives as a string): a text cast named seq would be what ORDER BY sorts, "10" before "2".
            `SELECT seq, message_id, kind, name, occurred_at, received_at, properties FROM pulse_profile_events
              WHERE tenant_id = $1 AND profile_id = $2 AND seq > $3::bigint ORDER BY seq LIMIT $4`,
            [tenantId, profileId, after, EVENTS_PAGE],
          );
          const page: JsonValue[] = [];
          for (const row of rows) page.push({ profileId, ...(await storedEventView(personalData, tenantId, row)) });
          yield page;
          if (rows.length < EVENTS_PAGE) break;
          after = rows[rows.length - 1]!.seq;
        }
      }
    }

    return jsonObjectFragments({ profiles: profiles(), events: events() });
  };
}
