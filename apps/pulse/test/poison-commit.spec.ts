import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { GroupCommit } from '../src/tracking/group-commit';
import { eventually, postTracking, usePulse, type Tenant } from './pulse-harness';

/**
 * A group commit carries many tenants' requests in one statement. When the store refuses that
 * statement because of one request's values (a value that passed validation, refused by a test
 * CHECK standing in for any constraint or cast), that request is refused and the others are
 * stored; when it fails for a reason of its own (here a serialization failure), every request of
 * it is told to retry.
 */
describe('ingest: one request the store refuses does not fail its neighbours', () => {
  // One commit at a time, so that the requests held back by the gate go in together.
  const h = usePulse({ env: { INGEST_WRITERS: '1' } });
  let other: Tenant;
  let gate: Client;
  beforeAll(async () => {
    other = await h.pulse.createTenant();
    const pool = h.pulse.runtime.infrastructure.pool;
    // The gate holds every commit while the test holds its lock, as back-pressure.spec does.
    await pool.query(`CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_xact_lock_shared(4343); RETURN NULL; END $$`);
    await pool.query('CREATE TRIGGER test_gate BEFORE INSERT ON pulse_message_ids FOR EACH STATEMENT EXECUTE FUNCTION test_gate()');
    await pool.query(`CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.message_id LIKE 'poison-%' THEN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END IF;
      IF NEW.message_id LIKE 'conflicted-%' THEN RAISE EXCEPTION 'conflict by the test' USING ERRCODE = 'serialization_failure'; END IF;
      RETURN NEW; END $$`);
    await pool.query('CREATE TRIGGER test_refuse BEFORE INSERT ON pulse_message_ids FOR EACH ROW EXECUTE FUNCTION test_refuse()');
    gate = new Client({ connectionString: h.pulse.databaseUrl });
    await gate.connect();
  });
  afterAll(() => gate?.end());

  const batch = (prefix: string, count: number) => ({
    batch: Array.from({ length: count }, () => ({
      type: 'track',
      userId: `p-${prefix}`,
      event: 'E',
      messageId: `${prefix}-${randomUUID()}`,
    })),
  });
  const post = (tenant: Tenant, body: object) => postTracking(h.pulse, tenant, body);

  /** Sends the bodies while every commit is held, so that they wait and then go in one commit. */
  async function inOneCommit(calls: [Tenant, object][]) {
    const commit = h.pulse.app.get(GroupCommit);
    await gate.query('SELECT pg_advisory_lock(4343)');
    let answers: Promise<{ status: number; headers: Record<string, string>; body: Record<string, unknown> }>[];
    try {
      // The first call takes the one writer and waits at the gate; the rest queue behind it.
      answers = [post(h.tenant, batch('opener', 1))];
      await eventually(async () => commit.commitsInFlight === 1);
      const queued = commit.waitingEvents;
      answers.push(...calls.map(([tenant, body]) => post(tenant, body)));
      const events = calls.reduce((sum, [, body]) => sum + (body as { batch: unknown[] }).batch.length, 0);
      await eventually(async () => commit.waitingEvents === queued + events);
    } finally {
      await gate.query('SELECT pg_advisory_unlock(4343)');
    }
    const [opener, ...rest] = await Promise.all(answers);
    expect(opener!.status).toBe(200);
    return rest;
  }

  test('a request the store refuses for good gets 422 and nothing of it is stored; the other tenant’s requests in its commit get 200', async () => {
    const mine = [batch('fine', 3), batch('poison', 2), batch('fine', 2)];
    const theirs = [batch('theirs', 4), batch('theirs', 1)];
    const [first, refused, theirFirst, third, theirSecond] = await inOneCommit([
      [h.tenant, mine[0]!],
      [h.tenant, mine[1]!],
      [other, theirs[0]!],
      [h.tenant, mine[2]!],
      [other, theirs[1]!],
    ]);
    expect(refused!.status).toBe(422);
    expect(refused!.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(refused!.body.type).toMatch(/refused-by-store/);
    // Never echoing what was sent: the problem names no value of the request.
    for (const message of mine[1]!.batch) expect(JSON.stringify(refused!.body)).not.toContain(message.messageId);
    expect([first, third, theirFirst, theirSecond].map((answer) => answer!.status)).toEqual([200, 200, 200, 200]);
    const ours = await h.pulse.storedMessageIds(h.tenant.id);
    const theirsStored = await h.pulse.storedMessageIds(other.id);
    for (const message of [...mine[0]!.batch, ...mine[2]!.batch]) expect(ours.get(message.messageId)).toBe(1);
    for (const message of mine[1]!.batch) expect(ours.has(message.messageId)).toBe(false);
    for (const message of theirs.flatMap((body) => body.batch)) expect(theirsStored.get(message.messageId)).toBe(1);
  });

  test('a commit that fails for the store’s own reason answers 503 with Retry-After to every request in it, and stores none of them', async () => {
    const theirs = batch('theirs', 2);
    const conflicted = batch('conflicted', 1);
    const answers = await inOneCommit([
      [other, theirs],
      [h.tenant, conflicted],
    ]);
    expect(answers.map((answer) => [answer.status, answer.headers['retry-after']])).toEqual([
      [503, '1'],
      [503, '1'],
    ]);
    const theirsStored = await h.pulse.storedMessageIds(other.id);
    for (const message of theirs.batch) expect(theirsStored.has(message.messageId)).toBe(false);
    // Their retry, once the conflict is gone, is stored.
    expect((await post(other, theirs)).status).toBe(200);
    expect((await h.pulse.storedMessageIds(other.id)).get(theirs.batch[0]!.messageId)).toBe(1);
  });
});
