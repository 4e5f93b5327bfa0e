import { randomUUID } from 'node:crypto';
import { eventually, usePulse } from './pulse-harness';

/** Group profiles: `group` calls build accounts with traits and members (Segment's B2B model). */
describe('group profiles through the tracking API', () => {
  const h = usePulse();
  const group = (groupId: string, query = '', key?: string) =>
    h.pulse
      .http()
      .get(`/t/${h.tenant.slug}/groups/${encodeURIComponent(groupId)}${query}`)
      .set('authorization', `Bearer ${key ?? h.tenant.apiKey}`);

  test('group calls build an account with the latest value of each trait and its members as profiles', async () => {
    const account = `acme-${randomUUID()}`;
    const [ada, bob] = [`ada-${randomUUID()}`, `bob-${randomUUID()}`];
    await h.send([
      { type: 'group', userId: ada, groupId: account, traits: { name: 'Acme', plan: 'free' }, timestamp: '2026-01-01T10:00:00Z' },
      { type: 'group', userId: bob, groupId: account, traits: { plan: 'enterprise', seats: 40 }, timestamp: '2026-02-01T10:00:00Z' },
    ]);
    // Sent later but happened earlier: the older plan does not win.
    await h.send([{ type: 'group', userId: ada, groupId: account, traits: { plan: 'trial' }, timestamp: '2025-12-01T10:00:00Z' }]);
    await h.pulse.profilesCaughtUp();

    const read = await group(account);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      groupId: account,
      traits: { name: 'Acme', plan: 'enterprise', seats: 40 },
      memberCount: 2,
      firstSeen: '2025-12-01T10:00:00.000Z',
      lastSeen: '2026-02-01T10:00:00.000Z',
    });
    const adaProfile = await h.profile('userId', ada);
    expect(adaProfile.body.groups).toEqual([account]);
    // The account's traits are the group's, not the person's.
    expect(adaProfile.body.traits).toEqual({});

    const members = await group(account, '/members');
    expect(members.status).toBe(200);
    expect(members.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual([ada, bob].sort());
    expect(members.body.members.find((m: { userId: string }) => m.userId === ada)).toMatchObject({
      profileId: adaProfile.body.profileId,
      joinedAt: '2025-12-01T10:00:00.000Z',
      lastSeen: '2026-01-01T10:00:00.000Z',
    });
  });

  test('members page with a cursor, each member once', async () => {
    const account = `big-${randomUUID()}`;
    const people = Array.from({ length: 7 }, (_, i) => `member-${i}-${randomUUID()}`);
    await h.send(people.map((userId) => ({ type: 'group', userId, groupId: account })));
    await h.pulse.profilesCaughtUp();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await group(account, `/members?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.members.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.members.map((m: { userId: string }) => m.userId));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([...people].sort());
  });

  test('a merge moves an anonymous member onto the person, counted once', async () => {
    const account = `merge-${randomUUID()}`;
    const device = `device-${randomUUID()}`;
    const userId = `u-${randomUUID()}`;
    await h.send([{ type: 'group', anonymousId: device, groupId: account, timestamp: '2026-03-01T00:00:00Z' }]);
    await h.pulse.profilesCaughtUp();
    await h.send([{ type: 'group', userId, groupId: account, timestamp: '2026-03-02T00:00:00Z' }]);
    await h.pulse.profilesCaughtUp();
    expect((await group(account)).body.memberCount).toBe(2);

    await h.send([{ type: 'identify', userId, anonymousId: device }]);
    await h.pulse.profilesCaughtUp();
    const read = await group(account);
    expect(read.body.memberCount).toBe(1);
    const members = (await group(account, '/members')).body.members;
    expect(members).toEqual([
      expect.objectContaining({ userId, joinedAt: '2026-03-01T00:00:00.000Z', lastSeen: '2026-03-02T00:00:00.000Z' }),
    ]);
  });

  test("an erased person leaves the group's members; the account and its traits stay", async () => {
    const account = `erase-${randomUUID()}`;
    const { id: userId } = await h.pulse.register.signUp(h.tenant.slug, `group.${randomUUID()}@example.com`);
    const other = `other-${randomUUID()}`;
    await h.send([
      { type: 'group', userId, groupId: account, traits: { name: 'Initech' } },
      { type: 'group', userId: other, groupId: account },
    ]);
    await h.pulse.profilesCaughtUp();
    expect((await group(account)).body.memberCount).toBe(2);

    await h.pulse.register
      .http()
      .delete(`/t/${h.tenant.slug}/users/${userId}`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`)
      .expect(204);
    await eventually(async () => (await h.profile('userId', userId)).status === 404);
    const read = await group(account);
    expect(read.body).toMatchObject({ traits: { name: 'Initech' }, memberCount: 1 });
    expect((await group(account, '/members')).body.members.map((m: { userId: string }) => m.userId)).toEqual([other]);
  });

  test('bad reads: unknown group 404, bad limit or cursor 400, another tenant 403, a NUL in the id 400', async () => {
    expect((await group(`nobody-${randomUUID()}`)).status).toBe(404);
    expect((await group(`nobody-${randomUUID()}`, '/members')).status).toBe(404);
    const account = `reads-${randomUUID()}`;
    await h.send([{ type: 'group', userId: `x-${randomUUID()}`, groupId: account }]);
    await h.pulse.profilesCaughtUp();
    const badLimit = await group(account, '/members?limit=0');
    expect(badLimit.status).toBe(400);
    expect(badLimit.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(badLimit.body.detail).toMatch(/limit/);
    expect((await group(account, '/members?cursor=42')).status).toBe(400);
    expect((await group('a\u0000b')).status).toBe(400);
    const stranger = await h.pulse.createTenant();
    expect((await group(account, '', stranger.apiKey)).status).toBe(403);
    // The stranger's own lookup of the name finds nothing of ours.
    const theirs = await h.pulse
      .http()
      .get(`/t/${stranger.slug}/groups/${encodeURIComponent(account)}`)
      .set('authorization', `Bearer ${stranger.apiKey}`);
    expect(theirs.status).toBe(404);
  });
});
