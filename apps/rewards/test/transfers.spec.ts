import { ProjectionRunner } from '#cqrs';
import { randomUUID } from 'node:crypto';
import type { ProgramDefinition } from '../src/program/program.events';
import { ProgramHandler } from '../src/program/program.handler';
import { walletStreamFor } from '../src/rewards.streams';
import { WalletHandler } from '../src/wallet/wallet.handler';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

const TRANSFERS = { maxPointsPerTransfer: 1000, maxPointsPerDay: 1500, minBalanceAfter: 0 };

/** Points from one member to another: the sender's wallet decides, so no race overdraws it; the recipient gets them once. */
describe('points transfers', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    expect(
      (
        await http()
          .put(`/t/${tenant.slug}/program`)
          .set(auth(tenant))
          .send({ ...PROGRAM, transfers: TRANSFERS })
      ).status,
    ).toBe(200);
  });
  afterAll(() => h.close());

  const http = () => h.rewards.http();
  const member = async (userId: string) => (await http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body;
  const grant = (userId: string, points: number) => h.track(tenant, userId, 'Grant', { points });
  const transfer = (from: string, body: object, key: string = randomUUID(), as: Tenant = tenant) =>
    http().post(`/t/${as.slug}/members/${from}/transfers`).set(auth(as)).set('idempotency-key', key).send(body);

  test('points move once, however often the call is retried; the same key with another body is refused', async () => {
    const [alice, bob] = [`a-${randomUUID()}`, `b-${randomUUID()}`];
    await grant(alice, 300);
    await grant(bob, 1);
    const key = randomUUID();
    const first = await transfer(alice, { to: bob, points: 120 }, key);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ from: alice, to: bob, points: 120, balance: 180, status: 'credited' });
    const again = await transfer(alice, { to: bob, points: 120 }, key);
    expect(again.body).toEqual(first.body);
    expect((await transfer(alice, { to: bob, points: 121 }, key)).status).toBe(422);
    expect(await member(alice)).toMatchObject({ balance: 180 });
    expect(await member(bob)).toMatchObject({
      balance: 121,
      lots: expect.arrayContaining([expect.objectContaining({ lotId: `transfer/${first.body.transferId}` })]),
    });
    // The read model the member list and the liability report use agrees.
    await h.rewards.app.get(ProjectionRunner).waitFor((await h.rewards.runtime.infrastructure.eventStore.headPosition())!);
    const listed = await http().get(`/t/${tenant.slug}/members?minBalance=121&maxBalance=180`).set(auth(tenant));
    expect(listed.body.items.filter((each: { userId: string }) => each.userId === alice || each.userId === bob)).toHaveLength(2);
  });

  test("a transfer whose request stopped after the sender's half is finished from the log (rewards.transfers)", async () => {
    const [alice, bob] = [`a-${randomUUID()}`, `b-${randomUUID()}`];
    await grant(alice, 50);
    await grant(bob, 1);
    const { program } = (await h.rewards.app.get(ProgramHandler).current(tenant.id)) as { program: ProgramDefinition };
    // Only the sender's half, as a request that crashed right after it would leave it.
    const outcome = await h.rewards.app.get(WalletHandler).handle(
      {
        type: 'TransferOut',
        userId: alice,
        transferId: `crash-${randomUUID()}`,
        to: bob,
        points: 20,
        fingerprint: 'f',
        program,
        now: new Date(),
      },
      { tenantId: tenant.id, correlationId: randomUUID(), now: new Date() },
    );
    expect(outcome.accepted).toBe(true);
    const deadline = Date.now() + 20_000;
    while ((await member(bob)).balance !== 21) {
      if (Date.now() > deadline) throw new Error('the transfer was not finished from the log');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await member(alice)).toMatchObject({ balance: 30 });
  });

  test('on PostgreSQL both halves are one append: when the credit cannot be stored, the debit is not either', async () => {
    const [alice, bob] = [`a-${randomUUID()}`, `b-${randomUUID()}`];
    await grant(alice, 200);
    await grant(bob, 1);
    const pool = h.rewards.runtime.infrastructure.pool;
    const wallet = async (userId: string) =>
      (await pool.query(`SELECT type FROM es_events WHERE stream_name = $1 ORDER BY stream_revision`, [walletStreamFor(tenant.id, userId)]))
        .rows;
    const before = { alice: await wallet(alice), bob: await wallet(bob) };
    expect(before.alice.length).toBeGreaterThan(0);
    // A crash between the two halves, as the database sees it: the recipient's event cannot be stored.
    await pool.query(`CREATE OR REPLACE FUNCTION rewards_test_no_credit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'simulated crash before the credit'; END $$`);
    // (The stream name is ours, a uuid and a member id of [A-Za-z0-9-]: safe inside the literal.)
    await pool.query(`CREATE TRIGGER rewards_test_no_credit BEFORE INSERT ON es_events FOR EACH ROW
      WHEN (NEW.type = 'PointsTransferredIn' AND NEW.stream_name = '${walletStreamFor(tenant.id, bob)}') EXECUTE FUNCTION rewards_test_no_credit()`);
    const key = randomUUID();
    try {
      expect((await transfer(alice, { to: bob, points: 70 }, key)).status).toBeGreaterThanOrEqual(500);
    } finally {
      await pool.query('DROP TRIGGER rewards_test_no_credit ON es_events');
    }
    expect({ alice: await wallet(alice), bob: await wallet(bob) }).toEqual(before);
    expect(await member(alice)).toMatchObject({ balance: 200 });
    // The same call again moves the points, once.
    const again = await transfer(alice, { to: bob, points: 70 }, key);
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ balance: 130, status: 'credited' });
    expect(await member(bob)).toMatchObject({ balance: 71 });
    expect((await wallet(alice)).filter((row: { type: string }) => row.type === 'PointsTransferredOut')).toHaveLength(1);
  });

  test('limits, unknown recipients and bad input are refused and move nothing', async () => {
    const [alice, bob] = [`a-${randomUUID()}`, `b-${randomUUID()}`];
    await grant(alice, 2000);
    await grant(bob, 1);
    const tooMuch = await transfer(alice, { to: bob, points: 1001 });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body).toMatchObject({ type: expect.stringMatching(/transfer-limit-exceeded$/), per: 'transfer', limit: 1000 });
    expect((await transfer(alice, { to: bob, points: 1000 })).status).toBe(201);
    const daily = await transfer(alice, { to: bob, points: 501 });
    expect(daily.body).toMatchObject({ type: expect.stringMatching(/transfer-limit-exceeded$/), per: 'day', used: 1000 });
    expect((await transfer(alice, { to: `nobody-${randomUUID()}`, points: 1 })).body.type).toMatch(/recipient-not-found$/);
    const self = await transfer(alice, { to: alice, points: 1 });
    expect(self.status).toBe(400);
    expect(self.body.errors).toEqual([expect.objectContaining({ pointer: '/to' })]);
    for (const [body, pointer] of [
      [{ to: bob, points: 0 }, '/points'],
      [{ to: bob, points: 1.5 }, '/points'],
      [{ to: 'me@example.com', points: 1 }, '/to'],
      [{ to: bob, points: 1, note: 'x' }, '/note'],
    ] as const) {
      const bad = await transfer(alice, body);
      expect(bad.status).toBe(400);
      expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(bad.body.errors.map((each: { pointer: string }) => each.pointer)).toContain(pointer);
    }
    expect((await http().post(`/t/${tenant.slug}/members/${alice}/transfers`).set(auth(tenant)).send({ to: bob, points: 1 })).status).toBe(
      400,
    );
    expect(await member(alice)).toMatchObject({ balance: 1000 });
    expect(await member(bob)).toMatchObject({ balance: 1001 });

    const closed = await h.createTenant();
    expect((await http().put(`/t/${closed.slug}/program`).set(auth(closed)).send(PROGRAM)).status).toBe(200);
    await h.track(closed, alice, 'Grant', { points: 10 });
    await h.track(closed, bob, 'Grant', { points: 10 });
    expect((await transfer(alice, { to: bob, points: 1 }, randomUUID(), closed)).body.type).toMatch(/transfers-disabled$/);
  });

  test('a transfer racing a redemption of the same points never overdraws the wallet: one of them wins', async () => {
    const rewardId = (await http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Lamp', cost: 100, stock: 1000 })).body
      .id;
    const recipient = `r-${randomUUID()}`;
    await grant(recipient, 1);
    const senders = Array.from({ length: 10 }, () => `s-${randomUUID()}`);
    for (const sender of senders) await grant(sender, 150);
    const answers = await Promise.all(
      senders.flatMap((sender) => [
        transfer(sender, { to: recipient, points: 100 }),
        http()
          .post(`/t/${tenant.slug}/members/${sender}/redemptions`)
          .set(auth(tenant))
          .set('idempotency-key', randomUUID())
          .send({ rewardId }),
      ]),
    );
    let moved = 0;
    for (const [index, sender] of senders.entries()) {
      const [sent, redeemed] = [answers[index * 2]!, answers[index * 2 + 1]!];
      expect([sent.status, redeemed.status].sort()).toEqual([201, 409]);
      if (sent.status === 201) moved += 100;
      expect(await member(sender)).toMatchObject({ balance: 50 });
    }
    expect(await member(recipient)).toMatchObject({ balance: 1 + moved });
  });
});
