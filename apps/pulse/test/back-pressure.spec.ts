import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { GroupCommit } from '../src/tracking/group-commit';
import { basic, eventually, usePulse } from './pulse-harness';

/** A slow store must push back on clients (503 with Retry-After), never queue without bound. */
describe('ingest back-pressure', () => {
  // Two commits in flight at most, so that the third batch has to wait in the queue.
  const h = usePulse({ env: { INGEST_MAX_QUEUED_EVENTS: '150', INGEST_WRITERS: '2' } });

  test('while the store does not answer, calls beyond the bounded queue get 503 with Retry-After and nothing of them is stored; what was queued is stored once it answers', async () => {
    const batchOf = (label: string) => ({
      batch: Array.from({ length: 100 }, (_, i) => ({
        type: 'track',
        event: 'Opened',
        anonymousId: 'bp',
        messageId: `${label}-${i}-${randomUUID()}`,
      })),
    });
    const post = (body: object) =>
      h.pulse
        .http()
        .post('/v1/batch')
        .set('authorization', basic(h.tenant.writeKey))
        .send(body)
        .then((response) => response);
    const commit = h.pulse.app.get(GroupCommit);
    const pool = h.pulse.runtime.infrastructure.pool;
    // The person's data key exists, so only the store's answer waits.
    expect((await post(batchOf('warm'))).status).toBe(200);
    const [first, second, queued, refused] = ['first', 'second', 'queued', 'refused'].map(batchOf);
    // The store stops answering: every commit waits in a trigger for a lock this test holds.
    const gate = new Client({ connectionString: h.pulse.databaseUrl });
    await gate.connect();
    await gate.query('SELECT pg_advisory_lock(4242)');
    await pool.query(
      `CREATE FUNCTION test_slow_store() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NULL; END $$`,
    );
    await pool.query(
      'CREATE TRIGGER test_slow_store BEFORE INSERT ON pulse_message_ids FOR EACH STATEMENT EXECUTE FUNCTION test_slow_store()',
    );
    let answers: Promise<{ status: number }>[];
    try {
      answers = [post(first!), post(second!)];
      await eventually(async () => commit.commitsInFlight === 2 && commit.waitingEvents === 0);
      answers.push(post(queued!));
      await eventually(async () => commit.waitingEvents === 100);
      const pushedBack = await post(refused!);
      expect(pushedBack.status).toBe(503);
      expect(pushedBack.headers['retry-after']).toBe('1');
      expect(pushedBack.headers['content-type']).toContain('application/problem+json');
      expect(pushedBack.body.type).toContain('ingest-overloaded');
    } finally {
      await gate.query('SELECT pg_advisory_unlock(4242)');
      await gate.end();
    }
    const statuses = (await Promise.all(answers)).map((answer) => answer.status);
    await pool.query('DROP TRIGGER test_slow_store ON pulse_message_ids; DROP FUNCTION test_slow_store()');
    expect(statuses).toEqual([200, 200, 200]);
    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    for (const body of [first, second, queued]) for (const message of body!.batch) expect(stored.get(message.messageId)).toBe(1);
    for (const message of refused!.batch) expect(stored.has(message.messageId)).toBe(false);
  });
});
