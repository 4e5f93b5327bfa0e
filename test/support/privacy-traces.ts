import type { Pool } from 'pg';
import { deriveKeys, PersonalDataCodec, PersonalDataIntegrityError, PersonalKeyStore } from '#personal-data';

/**
 * Searches for a person's values across a database as an attacker holding it (and the master key)
 * would: every row of every table, and every event of the log opened as any service could open it.
 * Shared by the erasure proof (privacy-end-to-end) and the restore drill.
 */

type Json = Record<string, unknown>;

/** Everything readable about the person in the database, with where it was found. */
export interface Leak {
  readonly needle: string;
  readonly where: string;
}

/**
 * Every row of every table (the event log's events opened as a service would) searched for the
 * needles. `log` is the event log's database when it is not the read models' (EVENTSTORE_URL apart).
 */
export async function readableTraces(pool: Pool, masterKey: Buffer, needles: readonly string[], log: Pool = pool): Promise<Leak[]> {
  const leaks: Leak[] = [];
  const lowered = needles.map((needle) => needle.toLowerCase());
  const look = (text: string, where: string) =>
    lowered.forEach((needle, i) => {
      if (text.toLowerCase().includes(needle)) leaks.push({ needle: needles[i]!, where });
    });
  const { rows: tables } = await pool.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  for (const { name } of tables) {
    if (name === 'es_events') continue;
    const { rows } = await pool.query<{ row: string }>(`SELECT t::text AS row FROM "${name}" t`);
    for (const { row } of rows) look(row, name);
  }
  const codec = new PersonalDataCodec(new PersonalKeyStore(pool, deriveKeys(masterKey).keyWrappingKey, { cacheTtlMs: 0 }));
  const { rows: events } = await log.query<{ stream_name: string; type: string; data: Json; metadata: Json }>(
    'SELECT stream_name, type, data, metadata FROM es_events ORDER BY seq',
  );
  for (const event of events) {
    const tenantId = String(event.metadata.tenantId ?? '');
    const opened = tenantId ? await openedOrSealed(codec, tenantId, event.data) : event.data;
    look(JSON.stringify({ data: opened, metadata: event.metadata }), `es_events ${event.type} in ${event.stream_name}`);
  }
  return leaks;
}

/**
 * The ids in read models: the event store's own tables (stream names, events) keep them, and so do
 * the tombstones of the destroyed keys (which keep the person from being tracked again); nothing else.
 */
export async function readModelTraces(pool: Pool, masterKey: Buffer, ids: readonly string[], log: Pool = pool): Promise<Leak[]> {
  return (await readableTraces(pool, masterKey, ids, log)).filter(
    (leak) => !leak.where.startsWith('es_') && leak.where !== 'personal_data_keys',
  );
}

/**
 * An event's data opened with the database's keys; as stored (its sealed fields ciphertext) when
 * the database has no key for them at all: a read-model database restored older than the log lacks
 * the keys of people who arrived since, and nobody holding it can read what was sealed for them.
 */
async function openedOrSealed(codec: PersonalDataCodec, tenantId: string, data: Json): Promise<unknown> {
  try {
    return (await codec.open(tenantId, data as never)).data;
  } catch (error) {
    if (error instanceof PersonalDataIntegrityError) return data;
    throw error;
  }
}
