import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import request from 'supertest';
import { basic, eventually } from '../apps/pulse/test/pulse-harness';
import { REDIRECT_URI } from '../apps/login/test/sign-in-flow';
import { callService, startFourServices, type FourServices, type ServiceName } from './support/four-services';
import { createTenant, insecure, registerClient, signIn, signUpPerson } from './support/noisy-tenants';
import { issueServerKey } from './support/server-key';

/**
 * A member's own rewards, with the access token login gave them when they signed in to the shop:
 * the four services as deployed, the token from login's pages through openid-client, no API key
 * on the member's side.
 */

jest.setTimeout(180_000);

type Json = Record<string, unknown>;

describe("a member's own wallet, catalog and redemptions with login's access token", () => {
  let four: FourServices;
  let tenant: { id: string; slug: string; writeKey: string; apiKey: string };
  let serverKey: string;
  let app: oidc.Configuration;
  let rewardId: string;
  const url = (service: 'register' | 'login' | 'pulse' | 'rewards') => four.services[service].url;

  const call = (service: ServiceName, method: string, path: string, headers: Json = {}, body?: unknown) =>
    callService(four, service, method, path, headers, body);
  const me = (path: string, token: string, method = 'GET', body?: unknown, headers: Json = {}) =>
    call('rewards', method, `/t/${tenant.slug}/me/${path}`, { authorization: `Bearer ${token}`, ...headers }, body);
  /** A person signed up and signed in to the shop (login's pages, openid-client): their access token for Tessera's APIs. */
  async function signedIn(config: oidc.Configuration, t: { id: string; slug: string }): Promise<{ userId: string; token: string }> {
    const email = `member.${randomBytes(5).toString('hex')}@example.com`;
    const userId = await signUpPerson(four, t.slug, t.id, email);
    return { userId, token: await signIn(config, t.slug, email, { resource: 'urn:tessera:api' }) };
  }

  beforeAll(async () => {
    four = await startFourServices();
    tenant = await createTenant(four, 'member-self');
    serverKey = await issueServerKey({ http: () => request(url('register')), adminToken: four.adminToken }, url('pulse'), tenant.slug);
    const reward = await call(
      'rewards',
      'POST',
      `/t/${tenant.slug}/rewards`,
      { authorization: `Bearer ${tenant.apiKey}` },
      {
        name: 'Tote bag',
        cost: 30,
        stock: 10,
      },
    );
    expect(reward.status).toBe(201);
    rewardId = String(reward.body.id);
    const client = await registerClient(four, tenant.slug, { name: 'Shop', type: 'public', redirectUris: [REDIRECT_URI] });
    app = await oidc.discovery(new URL(`${url('login')}/t/${tenant.slug}`), client.clientId, undefined, oidc.None(), insecure);
  });
  afterAll(() => four?.close());

  test('signed in, a member sees their balance, history and what they can redeem, and redeems once per Idempotency-Key', async () => {
    const { userId, token } = await signedIn(app, tenant);
    const ordered = await call(
      'pulse',
      'POST',
      '/v1/track',
      { authorization: basic(serverKey) },
      { userId, event: 'Order Completed', properties: { order_id: 'o-1', total: 120, currency: 'EUR' } },
    );
    expect(ordered.status).toBe(200);
    let balance = 0;
    await eventually(async () => {
      const wallet = await me('wallet', token);
      balance = Number(wallet.body.balance);
      return wallet.status === 200 && balance >= 120;
    });
    expect((await me('wallet', token)).body).toMatchObject({ userId });

    const catalog = await me('rewards', token);
    expect(catalog.status).toBe(200);
    expect(catalog.body.items).toContainEqual(expect.objectContaining({ id: rewardId, cost: 30, available: true }));
    // What the tenant's own catalog view shows and a member's does not.
    expect(JSON.stringify(catalog.body)).not.toMatch(/"stock"|"remaining"/);

    const key = { 'idempotency-key': `redeem-${randomBytes(4).toString('hex')}` };
    const redeemed = await me('redemptions', token, 'POST', { rewardId }, key);
    expect(redeemed.status).toBe(201);
    const again = await me('redemptions', token, 'POST', { rewardId }, key);
    expect(again.body.id).toBe(redeemed.body.id);
    expect(Number((await me('wallet', token)).body.balance)).toBe(balance - 30);

    const mine = await me('redemptions', token);
    expect(mine.body.items.map((item: Json) => item.id)).toEqual([redeemed.body.id]);
    const history = await me('transactions', token);
    expect(history.body.items.map((item: Json) => item.type)).toEqual(expect.arrayContaining(['PointsEarned', 'PointsRedeemed']));
    // The tenant sees the very same redemption.
    const byTenant = await call('rewards', 'GET', `/t/${tenant.slug}/redemptions?userId=${userId}`, {
      authorization: `Bearer ${tenant.apiKey}`,
    });
    expect(byTenant.body.items.map((item: Json) => item.id)).toEqual([redeemed.body.id]);
  });

  test("a member's catalog pages hold `limit` redeemable rewards, whatever inactive or out-of-date ones lie between", async () => {
    const { token } = await signedIn(app, tenant);
    const asTenant = { authorization: `Bearer ${tenant.apiKey}` };
    const create = async (body: Json) => {
      const created = await call('rewards', 'POST', `/t/${tenant.slug}/rewards`, asTenant, { cost: 5, stock: 5, ...body });
      expect(created.status).toBe(201);
      return String(created.body.id);
    };
    // Reward ids order the catalog: the hidden ones come first, between the Tote bag and the redeemable ones.
    const hidden = [
      await create({ name: 'Retired 1' }),
      await create({ name: 'Retired 2' }),
      await create({ name: 'Ended', validUntil: new Date(Date.now() + 1500).toISOString() }),
      await create({ name: 'Not yet', validFrom: '2999-01-01T00:00:00Z' }),
    ];
    for (const id of hidden.slice(0, 2))
      expect((await call('rewards', 'POST', `/t/${tenant.slug}/rewards/${id}/deactivation`, asTenant)).status).toBe(200);
    const shown = [rewardId, await create({ name: 'Open 1' }), await create({ name: 'Open 2' })];
    // The catalog's read model has the deactivations, and the short-lived reward has ended.
    await eventually(async () => {
      const all = await call('rewards', 'GET', `/t/${tenant.slug}/rewards?limit=500`, asTenant);
      const active = (all.body.items as Json[]).filter((item) => hidden.slice(0, 2).includes(String(item.id))).map((item) => item.active);
      return (
        active.length === 2 &&
        active.every((each) => each === false) &&
        Date.now() > Date.parse(String((all.body.items as Json[]).find((item) => item.id === hidden[2])!.validUntil))
      );
    });
    const first = await me('rewards?limit=2', token);
    expect(first.status).toBe(200);
    expect((first.body.items as Json[]).map((item) => item.id)).toEqual(shown.slice(0, 2));
    const second = await me(`rewards?limit=2&cursor=${String(first.body.nextCursor)}`, token);
    expect((second.body.items as Json[]).map((item) => item.id)).toEqual(shown.slice(2));
  });

  test('no token, a forged one, the API key, or a token of another tenant is refused, and nothing is redeemed', async () => {
    const noToken = await call('rewards', 'GET', `/t/${tenant.slug}/me/wallet`);
    expect(noToken.status).toBe(401);
    expect(noToken.body.type).toBeDefined();
    expect((await me('wallet', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')).status).toBe(401);
    expect((await me('wallet', tenant.apiKey)).status).toBe(401);

    const other = await createTenant(four, 'member-self-b');
    const client = await registerClient(four, other.slug, { name: 'Other shop', type: 'public', redirectUris: [REDIRECT_URI] });
    const otherApp = await oidc.discovery(new URL(`${url('login')}/t/${other.slug}`), client.clientId, undefined, oidc.None(), insecure);
    const stranger = await signedIn(otherApp, other);
    expect((await me('wallet', stranger.token)).status).toBe(403);
    const redeem = await me('redemptions', stranger.token, 'POST', { rewardId }, { 'idempotency-key': 'stranger' });
    expect(redeem.status).toBe(403);
    const redemptions = await call('rewards', 'GET', `/t/${tenant.slug}/redemptions?userId=${stranger.userId}`, {
      authorization: `Bearer ${tenant.apiKey}`,
    });
    expect(redemptions.body.items).toEqual([]);
  });
});
