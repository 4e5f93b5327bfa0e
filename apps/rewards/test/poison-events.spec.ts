import { randomUUID } from 'node:crypto';
import type { EventToAppend } from '#eventstore';
import { trackingStreamFor } from '#contracts';
import { programStreamFor, walletStreamFor } from '../src/rewards.streams';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** A stored event no reader can decode (metadata without its tenant) is parked; earning goes on. */
describe('earning past events it cannot decode', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
  });
  afterAll(() => h.close());

  /** An event as some broken writer might have stored it: right type and data, metadata without tenantId. */
  const withoutTenant = (stored: EventToAppend): EventToAppend => ({
    ...stored,
    id: randomUUID(),
    metadata: { schemaVersion: 1, correlationId: 'broken-writer' },
  });

  test('a broken track call and a broken program version in the log: the good calls earn, the broken ones are parked once', async () => {
    const store = h.rewards.runtime.infrastructure.eventStore;
    const [published] = await store.readStream(programStreamFor(tenant.id));
    const brokenProgram = withoutTenant({ type: published!.type, data: published!.data, metadata: published!.metadata });
    const appended = await store.appendToStream(programStreamFor(tenant.id), [brokenProgram], { expectedRevision: 'any' });
    await h.rewards.earning.waitFor(appended.position);
    // A replica that has not seen this tenant's program yet reads the program stream itself when
    // the tenant's first call arrives: the broken version there must not stall it either.
    await h.rewards.earning.stop();
    const replica = await h.startReplica();
    try {
      const userId = `poison-${randomUUID()}`;
      const first = await h.sealTrack(tenant, userId, 'Grant', { points: 40 });
      const brokenTrack = withoutTenant(await h.sealTrack(tenant, userId, 'Grant', { points: 1000 }));
      const last = await h.sealTrack(tenant, userId, 'Grant', { points: 2 });
      const { position } = await store.appendToStream(trackingStreamFor(tenant.id, 0), [first, brokenTrack, last], {
        expectedRevision: 'any',
      });
      await replica.earning.waitFor(position);

      // Read off the wallet stream: the member API folds the program stream too, and on the command
      // side a broken event there fails loudly by design (500) rather than deciding on a guess.
      const earned = (await store.readStream(walletStreamFor(tenant.id, userId)))
        .filter((e) => e.type === 'PointsEarned')
        .map((e) => e.data.points);
      expect(earned).toEqual([40, 2]);
      const parked = await h.rewards.runtime.infrastructure.pool.query<{ event_id: string; error_kind: string; reason: string }>(
        `SELECT event_id, error_kind, reason FROM projection_parked_events WHERE projection = 'rewards.earning' ORDER BY commit_position`,
      );
      expect(parked.rows).toEqual(
        [brokenProgram, brokenTrack].map((e) => ({
          event_id: e.id,
          error_kind: 'undecodable',
          reason: 'UndecodableEventError: event metadata lacks tenantId',
        })),
      );
    } finally {
      await replica.close();
      h.rewards.earning.start();
    }
  });
});
