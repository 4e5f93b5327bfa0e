import * as oidc from 'openid-client';
import request from 'supertest';
import { eventually } from '../../apps/pulse/test/pulse-harness';
import { PROGRAM } from '../../apps/rewards/test/rewards-harness';
import { openSignInPage, REDIRECT_URI, signInThroughPages } from '../../apps/login/test/sign-in-flow';
import type { FourServices, ServiceName } from './four-services';
import type { HostileTenant } from './hostile-calls';
import { STRONG_PASSWORD } from './register-harness';
import { issueServerKey } from './server-key';

/**
 * The two tenants of the noisy-neighbour test, set up the way a tenant's operator would through
 * the admin and public APIs: the honest one with a server source, a confidential client, a
 * program, a reward and members with points; the hostile one with what any tenant holds.
 */

export interface HonestTenant {
  readonly id: string;
  readonly slug: string;
  readonly apiKey: string;
  /** A server source's key (`tss_…`): what the honest tenant's backend tracks with, so its orders earn. */
  readonly serverKey: string;
  readonly rewardId: string;
  /** Members holding points enough for every redemption of the window. */
  readonly members: readonly string[];
  /** The confidential client's client-credentials configuration (openid-client). */
  readonly service: oidc.Configuration;
  /** A public client's configuration, for people who sign in through login's pages. */
  readonly app: oidc.Configuration;
}

export const insecure = { execute: [oidc.allowInsecureRequests] };
const POINTS_PER_MEMBER = 1_000_000;

type Json = Record<string, unknown>;

/** JSON over fetch, for set-up calls. */
async function json(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function expectStatus(answer: Promise<{ status: number; body: Json }>, status: number, what: string): Promise<Json> {
  const { status: got, body } = await answer;
  if (got !== status) throw new Error(`${what}: ${got} ${JSON.stringify(body)}`);
  return body;
}

/** A tenant through register's admin API, once login, pulse and rewards know it (each from register's events). */
export async function createTenant(four: FourServices, slug: string) {
  const { register, pulse, rewards } = four.services;
  const admin = { authorization: `Bearer ${four.adminToken}` };
  const tenant = (await expectStatus(
    json(`${register.url}/admin/tenants`, 'POST', admin, { slug, name: `Tenant ${slug}` }),
    201,
    'tenant',
  )) as {
    id: string;
    slug: string;
    writeKey: string;
    apiKey: string;
  };
  const bearer = { authorization: `Bearer ${tenant.apiKey}` };
  await eventually(async () => (await fetch(`${pulse.url}/v1/projects/${tenant.writeKey}/settings`)).status === 200);
  await eventually(async () => (await json(`${rewards.url}/t/${slug}/program`, 'PUT', bearer, PROGRAM)).status === 200);
  await eventually(async () => (await four.pool.query('SELECT 1 FROM login_tenants WHERE tenant_id = $1', [tenant.id])).rowCount === 1);
  return tenant;
}

export async function registerClient(four: FourServices, slug: string, body: Json): Promise<{ clientId: string; clientSecret?: string }> {
  const url = `${four.services.login.url}/admin/tenants/${slug}/clients`;
  return (await expectStatus(json(url, 'POST', { authorization: `Bearer ${four.adminToken}` }, body), 201, 'client registration')) as {
    clientId: string;
    clientSecret?: string;
  };
}

/** A person signed up through register, once login's credentials read model has them. */
export async function signUpPerson(four: FourServices, slug: string, tenantId: string, email: string): Promise<string> {
  const url = `${four.services.register.url}/t/${slug}/users`;
  const { id } = (await expectStatus(json(url, 'POST', {}, { email, password: STRONG_PASSWORD }), 201, 'sign-up')) as { id: string };
  const credentials = 'SELECT 1 FROM login_credentials WHERE tenant_id = $1 AND user_id = $2';
  await eventually(async () => (await four.pool.query(credentials, [tenantId, id])).rowCount === 1);
  return id;
}

/** A person's access token, through login's pages (authorization code + PKCE) and openid-client's code exchange. */
export async function signIn(
  config: oidc.Configuration,
  slug: string,
  email: string,
  params: Record<string, string> = {},
): Promise<string> {
  const { callback, verifier, state } = await signInThroughPages(slug, config, params, email);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, params);
  return tokens.access_token;
}

export async function prepareHonestTenant(four: FourServices): Promise<HonestTenant> {
  const { pulse, rewards, login } = four.services;
  const tenant = await createTenant(four, 'honest-b');
  const bearer = { authorization: `Bearer ${tenant.apiKey}` };
  const register = { http: () => request(four.services.register.url), adminToken: four.adminToken };
  const serverKey = await issueServerKey(register, pulse.url, tenant.slug);
  const reward = await expectStatus(
    json(`${rewards.url}/t/${tenant.slug}/rewards`, 'POST', bearer, { name: 'Gift card', cost: 10, stock: 1_000_000 }),
    201,
    'reward',
  );
  const members = ['b-member-1', 'b-member-2', 'b-member-3', 'b-member-4'];
  const basic = `Basic ${Buffer.from(`${serverKey}:`).toString('base64')}`;
  const grants = members.map((userId) => ({ type: 'track', userId, event: 'Grant', properties: { points: POINTS_PER_MEMBER } }));
  await expectStatus(json(`${pulse.url}/v1/batch`, 'POST', { authorization: basic }, { batch: grants }), 200, 'grants');
  for (const userId of members) {
    await eventually(
      async () => (await json(`${rewards.url}/t/${tenant.slug}/members/${userId}`, 'GET', bearer)).body.balance === POINTS_PER_MEMBER,
    );
  }
  const issuer = new URL(`${login.url}/t/${tenant.slug}`);
  const confidential = await registerClient(four, tenant.slug, {
    name: 'Checkout',
    type: 'confidential',
    grantTypes: ['client_credentials'],
  });
  const secret = confidential.clientSecret!;
  const service = await oidc.discovery(issuer, confidential.clientId, secret, oidc.ClientSecretBasic(secret), insecure);
  const publicClient = await registerClient(four, tenant.slug, { name: 'Shop', type: 'public', redirectUris: [REDIRECT_URI] });
  const app = await oidc.discovery(issuer, publicClient.clientId, undefined, oidc.None(), insecure);
  return { id: tenant.id, slug: tenant.slug, apiKey: tenant.apiKey, serverKey, rewardId: reward.id as string, members, service, app };
}

const SIGN_IN_PAGES = 6;

export async function prepareHostileTenant(four: FourServices): Promise<HostileTenant> {
  const { rewards, login } = four.services;
  const tenant = await createTenant(four, 'noisy-a');
  const bearer = { authorization: `Bearer ${tenant.apiKey}` };
  const { clientId } = await registerClient(four, tenant.slug, { name: 'Storefront', type: 'public', redirectUris: [REDIRECT_URI] });
  const config = await oidc.discovery(new URL(`${login.url}/t/${tenant.slug}`), clientId, undefined, oidc.None(), insecure);
  const personEmail = 'a-person@example.com';
  // Members are people: a sign-up earns the program's welcome points, which opens the wallet.
  const members = [await signUpPerson(four, tenant.slug, tenant.id, personEmail)];
  for (const n of [2, 3]) members.push(await signUpPerson(four, tenant.slug, tenant.id, `a-person-${n}@example.com`));
  const apiToken = await signIn(config, tenant.slug, personEmail, { resource: 'urn:tessera:api' });
  const userinfoToken = await signIn(config, tenant.slug, personEmail);
  const signInForms = [];
  for (let page = 0; page < SIGN_IN_PAGES; page++) {
    const { browser, form } = await openSignInPage(config);
    signInForms.push({ action: form.action, csrf: form.fields.csrf!, cookie: browser.cookieHeader() });
  }
  const reward = await expectStatus(
    json(`${rewards.url}/t/${tenant.slug}/rewards`, 'POST', bearer, { name: 'Mug', cost: 10, stock: 1_000 }),
    201,
    'reward',
  );
  for (const userId of members) {
    await eventually(async () => (await json(`${rewards.url}/t/${tenant.slug}/members/${userId}`, 'GET', bearer)).status === 200);
    const adjustment = { points: 1_000, reason: 'welcome', actor: 'operator' };
    await expectStatus(
      json(
        `${rewards.url}/t/${tenant.slug}/members/${userId}/adjustments`,
        'POST',
        { ...bearer, 'idempotency-key': `welcome-${userId}` },
        adjustment,
      ),
      201,
      'adjustment',
    );
  }
  const urls = Object.fromEntries(Object.entries(four.services).map(([name, service]) => [name, service.url])) as Record<
    ServiceName,
    string
  >;
  return {
    urls,
    id: tenant.id,
    slug: tenant.slug,
    writeKey: tenant.writeKey,
    apiKey: tenant.apiKey,
    apiToken,
    userinfoToken,
    personEmail,
    clientId,
    redirectUri: REDIRECT_URI,
    signInForms,
    rewardId: reward.id as string,
    members,
  };
}
