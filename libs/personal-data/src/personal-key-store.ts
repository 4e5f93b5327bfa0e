import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { inTransaction } from '#eventstore';
import { aes256Gcm, packSealed, unpackSealed } from './aead';
import { DataKeyUnwrapError, SubjectErasedError } from './errors';
import { framed } from './framing';
import { ExpiringLruCache } from '#platform';
import { SubjectBatches, type Subject } from './subject-batches';

/** What the store knows about one subject's data key. */
export type DataKeyLookup =
  | { readonly status: 'active'; readonly key: Buffer }
  /** The key was destroyed: the subject's sealed personal data is gone for good. */
  | { readonly status: 'erased' }
  /** No key was ever created: nothing was ever sealed for this subject in this tenant. */
  | { readonly status: 'unknown' };

export interface PersonalKeyStoreOptions {
  /**
   * How long a key read from the database is reused without asking again. `destroy` evicts at once
   * in its own process only; other replicas may keep encrypting and decrypting with a cached key
   * for up to this long after an erasure. Nothing they seal then survives (the key is gone from the
   * database), but reads there can still show the data until the entry expires. Default 30 s.
   */
  readonly cacheTtlMs?: number;
  /** Upper bound on cached keys (each ~100 bytes). Default 10 000. */
  readonly cacheMaxEntries?: number;
  /** Clock of the cache, in milliseconds; injectable for tests. */
  readonly now?: () => number;
}

const DATA_KEY_BYTES = 32;
/** Generation of a subject's data key; stays 1 until key rotation exists. Bound into the AAD. */
const CURRENT_KEY_VERSION = 1;
const MIGRATION_LOCK = 'tessera.personal_data_keys.migrate';
/** Subjects read or created by one statement: a few /v1/batch requests' worth. */
const KEYS_PER_STATEMENT = 500;

interface KeyRow {
  readonly tenant_id: string;
  readonly subject_id: string;
  readonly key_version: number;
  readonly wrapped_key: Buffer | null;
}

/**
 * Every destroyed key is announced on this PostgreSQL channel (payload: JSON `[tenantId, subjectId]`),
 * so that processes caching keys (pulse's ingest, sealing every tracked call) evict it at once
 * rather than after their cache's TTL: a person erased is not tracked again once the erasure is done.
 */
export const KEY_DESTRUCTION_CHANNEL = 'tessera_personal_keys_destroyed';

/**
 * Per-person data keys on PostgreSQL, stored only wrapped (AES-256-GCM under the key-wrapping key,
 * bound to tenant and subject, so a wrapped key copied to another row does not unwrap).
 * Destroying a key leaves a tombstone row: the key is never silently re-created for that person.
 */
export class PersonalKeyStore {
  private readonly cache: ExpiringLruCache<DataKeyLookup>;
  // Bumped by every destroy: a lookup that raced with one must not put a stale key back in the cache.
  private destroyEpoch = 0;
  private readonly creations = new SubjectBatches((subjects) => this.createOrRead(subjects), subjectKey, KEYS_PER_STATEMENT, refusedValue);
  private readonly reads = new SubjectBatches((subjects) => this.read(subjects), subjectKey, KEYS_PER_STATEMENT, refusedValue);

  constructor(
    private readonly pool: Pool,
    private readonly keyWrappingKey: Buffer,
    options: PersonalKeyStoreOptions = {},
  ) {
    if (keyWrappingKey.length !== 32) throw new Error('the key-wrapping key must be 32 bytes (derive it with deriveKeys)');
    this.cache = new ExpiringLruCache(options.cacheMaxEntries ?? 10_000, options.cacheTtlMs ?? 30_000, options.now);
  }

  /** Creates the table. Idempotent; the advisory lock makes concurrent runs from several processes safe. */
  async migrate(): Promise<void> {
    // CREATE TABLE IF NOT EXISTS alone can still fail on a concurrent creation (pg_type unique key).
    await inTransaction(
      this.pool,
      (client) =>
        client.query(`
          CREATE TABLE IF NOT EXISTS personal_data_keys (
            tenant_id text NOT NULL,
            subject_id text NOT NULL,
            key_version int NOT NULL,
            wrapped_key bytea,
            created_at timestamptz NOT NULL DEFAULT now(),
            destroyed_at timestamptz,
            PRIMARY KEY (tenant_id, subject_id),
            CONSTRAINT personal_data_keys_destroyed_means_no_key CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
          )`),
      { lock: MIGRATION_LOCK },
    );
  }

  /**
   * The subject's data key for sealing, created on first use. Concurrent first uses, in this process
   * or others, all end up with the one key that won the insert.
   * @throws SubjectErasedError when the subject's key was destroyed.
   */
  async keyFor(tenantId: string, subjectId: string): Promise<Buffer> {
    const found = this.cache.get(cacheKeyOf(tenantId, subjectId)) ?? (await this.creations.get({ tenantId, subjectId }));
    switch (found.status) {
      case 'active':
        return found.key;
      case 'erased':
        throw new SubjectErasedError(tenantId, subjectId);
      case 'unknown':
        throw new Error(`the data key of subject ${subjectId} in tenant ${tenantId} disappeared right after it was created`);
    }
  }

  /** The subject's key for opening, without ever creating one. */
  async lookup(tenantId: string, subjectId: string): Promise<DataKeyLookup> {
    return this.cache.get(cacheKeyOf(tenantId, subjectId)) ?? this.reads.get({ tenantId, subjectId });
  }

  /**
   * Crypto-shreds the subject: the wrapped key is overwritten with NULL and a tombstone stays.
   * Idempotent; also works for a subject that never had a key, so none is created later.
   */
  async destroy(tenantId: string, subjectId: string): Promise<void> {
    this.destroyEpoch += 1;
    const cacheKey = cacheKeyOf(tenantId, subjectId);
    this.cache.delete(cacheKey);
    // The announcement is delivered when the statement commits, so no listener evicts before the key is gone.
    await this.pool.query(
      `WITH destroyed AS (
         INSERT INTO personal_data_keys (tenant_id, subject_id, key_version, wrapped_key, destroyed_at)
         VALUES ($1, $2, $3, NULL, now())
         ON CONFLICT (tenant_id, subject_id) DO UPDATE
           SET wrapped_key = NULL, destroyed_at = COALESCE(personal_data_keys.destroyed_at, EXCLUDED.destroyed_at)
         RETURNING 1)
       SELECT pg_notify($4, $5) FROM destroyed`,
      [tenantId, subjectId, CURRENT_KEY_VERSION, KEY_DESTRUCTION_CHANNEL, JSON.stringify([tenantId, subjectId])],
    );
    this.destroyEpoch += 1;
    this.cache.set(cacheKey, { status: 'erased' });
  }

  /** Another process destroyed the subject's key: forget what this one cached, so the next use reads the tombstone. */
  evict(tenantId: string, subjectId: string): void {
    this.destroyEpoch += 1;
    this.cache.delete(cacheKeyOf(tenantId, subjectId));
  }

  /** The rows of these subjects as lookups ('unknown' without a row), cached unless a destroy raced. */
  private async read(subjects: readonly Subject[]): Promise<Map<string, DataKeyLookup | Error>> {
    const epoch = this.destroyEpoch;
    const { rows } = await this.pool.query<KeyRow>({
      name: 'personal_data_keys_read',
      text: `SELECT k.tenant_id, k.subject_id, k.key_version, k.wrapped_key
               FROM unnest($1::text[], $2::text[]) AS w(tenant_id, subject_id)
               JOIN personal_data_keys k ON k.tenant_id = w.tenant_id AND k.subject_id = w.subject_id`,
      values: [subjects.map((s) => s.tenantId), subjects.map((s) => s.subjectId)],
    });
    const found = this.remember(rows, epoch);
    for (const subject of subjects) {
      const key = cacheKeyOf(subject.tenantId, subject.subjectId);
      if (!found.has(key)) found.set(key, { status: 'unknown' });
    }
    return found;
  }

  /**
   * One round trip whether the subjects are new or known: reads the rows there are, inserts a fresh
   * key for each subject without one (in key order, so concurrent batches lock rows in one order and
   * cannot deadlock) and answers both. A row committed by a concurrent creator after this
   * statement's snapshot is invisible to it (neither read nor inserted); it is read right after.
   */
  private async createOrRead(subjects: readonly Subject[]): Promise<Map<string, DataKeyLookup | Error>> {
    const epoch = this.destroyEpoch;
    const wrapped = subjects.map(({ tenantId, subjectId }) =>
      packSealed(
        aes256Gcm.seal(this.keyWrappingKey, randomBytes(DATA_KEY_BYTES), wrappingBinding(tenantId, subjectId, CURRENT_KEY_VERSION)),
      ),
    );
    const { rows } = await this.pool.query<KeyRow>({
      name: 'personal_data_keys_create_or_read',
      text: `WITH wanted AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) AS w(tenant_id, subject_id, wrapped_key)
             ),
             found AS (
               SELECT k.tenant_id, k.subject_id, k.key_version, k.wrapped_key
                 FROM wanted w JOIN personal_data_keys k ON k.tenant_id = w.tenant_id AND k.subject_id = w.subject_id
             ),
             created AS (
               INSERT INTO personal_data_keys (tenant_id, subject_id, key_version, wrapped_key)
               SELECT w.tenant_id, w.subject_id, $4, w.wrapped_key FROM wanted w
                WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.tenant_id = w.tenant_id AND f.subject_id = w.subject_id)
                ORDER BY w.tenant_id, w.subject_id
               ON CONFLICT (tenant_id, subject_id) DO NOTHING
               RETURNING tenant_id, subject_id, key_version, wrapped_key
             )
             SELECT * FROM found UNION ALL SELECT * FROM created`,
      values: [subjects.map((s) => s.tenantId), subjects.map((s) => s.subjectId), wrapped, CURRENT_KEY_VERSION],
    });
    const found = this.remember(rows, epoch);
    const raced = subjects.filter((s) => !found.has(cacheKeyOf(s.tenantId, s.subjectId)));
    if (raced.length > 0) for (const [key, lookup] of await this.read(raced)) found.set(key, lookup);
    return found;
  }

  /** A row that does not unwrap fails its own subject only, as an Error in its place. */
  private remember(rows: readonly KeyRow[], epoch: number): Map<string, DataKeyLookup | Error> {
    const found = new Map<string, DataKeyLookup | Error>();
    for (const row of rows) {
      const key = cacheKeyOf(row.tenant_id, row.subject_id);
      let lookup: DataKeyLookup;
      try {
        lookup = row.wrapped_key
          ? { status: 'active', key: this.unwrap(row.tenant_id, row.subject_id, row.key_version, row.wrapped_key) }
          : { status: 'erased' };
      } catch (error) {
        found.set(key, error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      found.set(key, lookup);
      if (epoch === this.destroyEpoch) this.cache.set(key, lookup);
    }
    return found;
  }

  private unwrap(tenantId: string, subjectId: string, keyVersion: number, wrapped: Buffer): Buffer {
    const key = aes256Gcm.open(this.keyWrappingKey, unpackSealed(wrapped), wrappingBinding(tenantId, subjectId, keyVersion));
    if (!key || key.length !== DATA_KEY_BYTES) throw new DataKeyUnwrapError(tenantId, subjectId);
    return key;
  }
}

function wrappingBinding(tenantId: string, subjectId: string, keyVersion: number): Buffer {
  return framed('tessera/personal-data-key/v1', tenantId, subjectId, keyVersion);
}

function cacheKeyOf(tenantId: string, subjectId: string): string {
  return JSON.stringify([tenantId, subjectId]);
}

/**
 * PostgreSQL refused a value of the statement: a data exception (class 22, such as a NUL in text)
 * or a program limit (class 54, such as an index row too large). Only these can be one subject's.
 */
function refusedValue(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('54'));
}

function subjectKey(subject: Subject): string {
  return cacheKeyOf(subject.tenantId, subject.subjectId);
}
