import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { eventually } from '#platform/testing';
import { deriveKeys, PersonalDataCodec, PersonalKeyStore, SubjectErasedError } from '#personal-data';
import { createTestDatabase } from '../../../test/support/database';
import { KeyDestructionListener } from './key-destruction-listener';

/**
 * Two processes sharing the key store: one destroys a person's key (an erasure), the other has it
 * cached for sealing (pulse's ingest). With the listener the cached key goes as soon as PostgreSQL
 * announces the destruction, long before the cache's 30 s; without it, the cache keeps sealing.
 */
describe('evicting destroyed keys from another process’s cache', () => {
  const wrappingKey = deriveKeys(randomBytes(32)).keyWrappingKey;
  let url: string;
  const pools: Pool[] = [];
  const replica = () => {
    const pool = new Pool({ connectionString: url });
    pools.push(pool);
    const keys = new PersonalKeyStore(pool, wrappingKey);
    return { keys, codec: new PersonalDataCodec(keys) };
  };
  const warnings: string[] = [];
  const listeners: KeyDestructionListener[] = [];

  beforeAll(async () => {
    url = await createTestDatabase('keyevict');
    await replica().keys.migrate();
  });
  afterAll(async () => {
    await Promise.all(listeners.map((listener) => listener.stop()));
    await Promise.all(pools.map((pool) => pool.end()));
  });

  it('a key destroyed elsewhere is no longer used here once announced', async () => {
    const eraser = replica();
    const ingest = replica();
    const listener = new KeyDestructionListener(ingest.codec, url, (_fields, message) => warnings.push(message));
    listeners.push(listener);
    listener.start();
    await ingest.keys.keyFor('acme', 'user-42');
    // Another subject destroyed first: once its announcement is heard, the listener is surely listening.
    await ingest.keys.keyFor('acme', 'canary');
    await eraser.codec.forget('acme', 'canary');
    await eventually(() => expect(ingest.keys.keyFor('acme', 'canary')).rejects.toBeInstanceOf(SubjectErasedError), 5_000);

    await eraser.codec.forget('acme', 'user-42');
    await eventually(() => expect(ingest.keys.keyFor('acme', 'user-42')).rejects.toBeInstanceOf(SubjectErasedError), 5_000);
    expect(warnings).toEqual([]);
  });

  it('without it, the other process keeps its cached key until the cache expires (what the listener is for)', async () => {
    const eraser = replica();
    const ingest = replica();
    const key = await ingest.keys.keyFor('acme', 'user-7');
    await eraser.codec.forget('acme', 'user-7');
    await expect(ingest.keys.keyFor('acme', 'user-7')).resolves.toEqual(key);
  });
});
