import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { createTestDatabase } from '../../../test/support/database';
import { DataKeyUnwrapError, SubjectErasedError } from './errors';
import { deriveKeys } from './master-key';
import { PersonalKeyStore } from './personal-key-store';

describe('the personal key store', () => {
  const wrappingKey = deriveKeys(randomBytes(32)).keyWrappingKey;
  let url: string;
  const pools: Pool[] = [];
  const poolFor = () => {
    const pool = new Pool({ connectionString: url });
    pools.push(pool);
    return pool;
  };
  /** A separate store on its own pool behaves like another replica (or the same one after a restart). */
  const replica = (options = {}, key = wrappingKey) => new PersonalKeyStore(poolFor(), key, options);
  let pool: Pool;
  let store: PersonalKeyStore;

  beforeAll(async () => {
    url = await createTestDatabase('pdkeys');
    pool = poolFor();
    store = new PersonalKeyStore(pool, wrappingKey);
    await store.migrate();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
  });

  it('migrates idempotently, also when several processes migrate at once', async () => {
    const fresh = await createTestDatabase('pdmig');
    const racers = Array.from({ length: 4 }, () => new Pool({ connectionString: fresh }));
    try {
      await Promise.all(racers.map((p) => new PersonalKeyStore(p, wrappingKey).migrate()));
      await new PersonalKeyStore(racers[0]!, wrappingKey).migrate();
      const key = await new PersonalKeyStore(racers[1]!, wrappingKey).keyFor('acme', 'user-1');
      expect(key).toHaveLength(32);
    } finally {
      await Promise.all(racers.map((p) => p.end()));
    }
  });

  it('creates a 32-byte key on first use and returns the same one afterwards, here and on other replicas', async () => {
    const key = await store.keyFor('acme', 'user-first-use');
    expect(key).toHaveLength(32);
    expect((await store.keyFor('acme', 'user-first-use')).equals(key)).toBe(true);
    expect((await replica().keyFor('acme', 'user-first-use')).equals(key)).toBe(true);
  });

  it('gives each subject and each tenant its own key', async () => {
    const ada = await store.keyFor('acme', 'user-ada');
    const bob = await store.keyFor('acme', 'user-bob');
    const adaElsewhere = await store.keyFor('globex', 'user-ada');
    expect(ada.equals(bob)).toBe(false);
    expect(ada.equals(adaElsewhere)).toBe(false);
  });

  it('ends 20 concurrent first uses for one subject, across replicas, with one key that all of them use', async () => {
    const replicas = Array.from({ length: 4 }, () => replica());
    const keys = await Promise.all(Array.from({ length: 20 }, (_, i) => replicas[i % replicas.length]!.keyFor('acme', 'user-race')));
    const distinct = new Set(keys.map((key) => key.toString('hex')));
    expect(distinct.size).toBe(1);
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM personal_data_keys WHERE tenant_id = 'acme' AND subject_id = 'user-race'",
    );
    expect(rows[0].n).toBe(1);
  });

  it('stores keys only wrapped: the raw key appears nowhere in the table', async () => {
    const key = await store.keyFor('acme', 'user-wrapped');
    const { rows } = await pool.query<{ wrapped_key: Buffer }>(
      "SELECT wrapped_key FROM personal_data_keys WHERE tenant_id = 'acme' AND subject_id = 'user-wrapped'",
    );
    const wrapped = rows[0]!.wrapped_key;
    expect(wrapped.includes(key)).toBe(false);
    expect(wrapped.toString('hex')).not.toContain(key.toString('hex'));
  });

  it('does not unwrap keys under a different master key', async () => {
    await store.keyFor('acme', 'user-other-master');
    const otherMaster = replica({}, deriveKeys(randomBytes(32)).keyWrappingKey);
    await expect(otherMaster.keyFor('acme', 'user-other-master')).rejects.toThrow(DataKeyUnwrapError);
    await expect(otherMaster.lookup('acme', 'user-other-master')).rejects.toThrow(DataKeyUnwrapError);
  });

  it('does not unwrap a wrapped key copied into another subject’s row', async () => {
    await store.keyFor('acme', 'user-victim');
    await store.keyFor('acme', 'user-thief');
    await pool.query(
      `UPDATE personal_data_keys SET wrapped_key = (SELECT wrapped_key FROM personal_data_keys WHERE tenant_id = 'acme' AND subject_id = 'user-victim')
       WHERE tenant_id = 'acme' AND subject_id = 'user-thief'`,
    );
    await expect(replica().keyFor('acme', 'user-thief')).rejects.toThrow(DataKeyUnwrapError);
  });

  it('after destroy, refuses to seal for the subject and reports the key as erased', async () => {
    await store.keyFor('acme', 'user-destroyed');
    await store.destroy('acme', 'user-destroyed');
    await expect(store.keyFor('acme', 'user-destroyed')).rejects.toThrow(SubjectErasedError);
    await expect(store.lookup('acme', 'user-destroyed')).resolves.toEqual({ status: 'erased' });
  });

  it('keeps a tombstone that survives a restart, so the key is never re-created', async () => {
    await store.keyFor('acme', 'user-tombstone');
    await store.destroy('acme', 'user-tombstone');
    const afterRestart = replica();
    await expect(afterRestart.keyFor('acme', 'user-tombstone')).rejects.toThrow(SubjectErasedError);
    const { rows } = await pool.query(
      "SELECT wrapped_key, destroyed_at FROM personal_data_keys WHERE tenant_id = 'acme' AND subject_id = 'user-tombstone'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].wrapped_key).toBeNull();
    expect(rows[0].destroyed_at).toBeInstanceOf(Date);
  });

  it('destroys idempotently, and also tombstones a subject that never had a key', async () => {
    await store.destroy('acme', 'user-never-sealed');
    await store.destroy('acme', 'user-never-sealed');
    await expect(replica().keyFor('acme', 'user-never-sealed')).rejects.toThrow(SubjectErasedError);
  });

  it('destroys only the one subject in the one tenant', async () => {
    const bob = await store.keyFor('acme', 'user-bystander');
    const adaElsewhere = await store.keyFor('globex', 'user-erased-in-acme');
    await store.keyFor('acme', 'user-erased-in-acme');
    await store.destroy('acme', 'user-erased-in-acme');
    const fresh = replica();
    expect((await fresh.keyFor('acme', 'user-bystander')).equals(bob)).toBe(true);
    expect((await fresh.keyFor('globex', 'user-erased-in-acme')).equals(adaElsewhere)).toBe(true);
  });

  it('answers "unknown" for a subject that never had a key, without creating one', async () => {
    await expect(store.lookup('acme', 'user-nobody')).resolves.toEqual({ status: 'unknown' });
    const { rows } = await pool.query("SELECT 1 FROM personal_data_keys WHERE subject_id = 'user-nobody'");
    expect(rows).toHaveLength(0);
  });

  it('evicts a cached key at once in the process that destroyed it', async () => {
    const cached = replica();
    await cached.keyFor('acme', 'user-cached');
    await cached.destroy('acme', 'user-cached');
    await expect(cached.keyFor('acme', 'user-cached')).rejects.toThrow(SubjectErasedError);
  });

  it('lets another replica use its cached key until the time to live passes (the documented trade-off)', async () => {
    let now = 0;
    const other = replica({ cacheTtlMs: 30_000, now: () => now });
    const key = await other.keyFor('acme', 'user-ttl');
    await store.destroy('acme', 'user-ttl');
    now = 29_000;
    expect((await other.keyFor('acme', 'user-ttl')).equals(key)).toBe(true);
    now = 30_000;
    await expect(other.keyFor('acme', 'user-ttl')).rejects.toThrow(SubjectErasedError);
  });

  describe('asked for many subjects at once', () => {
    /** Statements the store sends on its pool while `work` runs. */
    const statementsDuring = async <T>(target: Pool, work: () => Promise<T>): Promise<{ result: T; statements: number }> => {
      const query = jest.spyOn(target, 'query');
      try {
        const result = await work();
        return { result, statements: query.mock.calls.length };
      } finally {
        query.mockRestore();
      }
    };
    const subjects = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

    it('creates the keys of a hundred new people asked for together in one statement, one key per person', async () => {
      const own = poolFor();
      const batched = new PersonalKeyStore(own, wrappingKey);
      const people = subjects('batch-new', 100);
      // Every person asked for twice, as two messages of one person in a /v1/batch would.
      const { result: keys, statements } = await statementsDuring(own, () =>
        Promise.all([...people, ...people].map((subject) => batched.keyFor('acme', subject))),
      );
      expect(statements).toBe(1);
      for (let i = 0; i < people.length; i++) expect(keys[i]!.equals(keys[i + people.length]!)).toBe(true);
      expect(new Set(keys.map((key) => key.toString('hex'))).size).toBe(people.length);
      const { rows } = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM personal_data_keys WHERE tenant_id = 'acme' AND subject_id LIKE 'batch-new-%'",
      );
      expect(rows[0]!.n).toBe(people.length);
      // Another replica reads the very keys that were created.
      const other = replica();
      const elsewhere = await Promise.all(people.map((subject) => other.keyFor('acme', subject)));
      elsewhere.forEach((key, i) => expect(key.equals(keys[i]!)).toBe(true));
    });

    it('re-reads 1,200 keys whose cache entries expired together with a statement per 500 people, not one per person', async () => {
      let now = 0;
      const own = poolFor();
      const cached = new PersonalKeyStore(own, wrappingKey, { cacheTtlMs: 30_000, now: () => now });
      const people = subjects('batch-expiring', 1200);
      const first = await Promise.all(people.map((subject) => cached.keyFor('acme', subject)));
      now = 30_000;
      const { result: again, statements } = await statementsDuring(own, () =>
        Promise.all(people.map((subject) => cached.keyFor('acme', subject))),
      );
      expect(statements).toBe(3);
      again.forEach((key, i) => expect(key.equals(first[i]!)).toBe(true));
      const { result: opened, statements: reads } = await statementsDuring(own, async () => {
        now = 60_000;
        return Promise.all(people.map((subject) => cached.lookup('acme', subject)));
      });
      expect(reads).toBe(3);
      opened.forEach((lookup, i) => expect(lookup).toEqual({ status: 'active', key: first[i] }));
    });

    it('ends concurrent batches of several replicas over the same new people with one key per person', async () => {
      const people = subjects('batch-race', 150);
      const replicas = Array.from({ length: 3 }, () => replica());
      const answers = await Promise.all(
        replicas.map((r) => Promise.all([...people].reverse().map((subject) => r.keyFor('acme', subject)))),
      );
      for (const answer of answers.slice(1)) answer.forEach((key, i) => expect(key.equals(answers[0]![i]!)).toBe(true));
      const { rows } = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM personal_data_keys WHERE tenant_id = 'acme' AND subject_id LIKE 'batch-race-%'",
      );
      expect(rows[0]!.n).toBe(people.length);
    });

    it("fails only the subject the database refuses or that is erased, not the other tenants' subjects batched with it", async () => {
      await store.destroy('acme', 'batch-erased');
      const batched = replica();
      const asked = [
        batched.keyFor('globex', 'batch-bystander-1'),
        batched.keyFor('acme', 'batch-nul-\u0000'),
        batched.keyFor('acme', 'batch-erased'),
        batched.keyFor('initech', 'batch-bystander-2'),
      ];
      const [bystander, refused, erased, other] = await Promise.allSettled(asked);
      expect(bystander.status).toBe('fulfilled');
      expect(other.status).toBe('fulfilled');
      expect(refused.status).toBe('rejected');
      expect(erased).toMatchObject({ status: 'rejected', reason: expect.any(SubjectErasedError) });
    });

    it('fails only the subject whose row does not unwrap when it is read with others', async () => {
      await store.keyFor('acme', 'batch-victim');
      await store.keyFor('acme', 'batch-thief');
      const honest = await store.keyFor('acme', 'batch-honest');
      await pool.query(
        `UPDATE personal_data_keys SET wrapped_key = (SELECT wrapped_key FROM personal_data_keys WHERE tenant_id = 'acme' AND subject_id = 'batch-victim')
         WHERE tenant_id = 'acme' AND subject_id = 'batch-thief'`,
      );
      const fresh = replica();
      const [thief, bystander] = await Promise.allSettled([fresh.lookup('acme', 'batch-thief'), fresh.lookup('acme', 'batch-honest')]);
      expect(thief).toMatchObject({ status: 'rejected', reason: expect.any(DataKeyUnwrapError) });
      expect(bystander).toEqual({ status: 'fulfilled', value: { status: 'active', key: honest } });
    });
  });
});
