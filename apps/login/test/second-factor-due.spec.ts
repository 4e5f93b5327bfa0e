import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { SecondFactors } from '../src/mfa/second-factors';
import { startLogin, statementsSentBy, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI } from './sign-in-flow';

/**
 * Whether a second factor is due after a right password: the password post's one read of its
 * interaction says how far the person's factors have got, so a factor added or removed by another
 * replica since this one last saw the person counts, without a read of the factors of its own.
 */
let login: LoginHarness;
let replica: { url: string; app: NestFastifyApplication; close: () => Promise<void> };
let tenant: { id: string; slug: string };
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin();
  tenant = await login.createTenant();
  const { clientId } = await login.registerClient(tenant.slug, { name: 'App', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(tenant.slug)), clientId, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  replica = await login.startReplica();
});
afterAll(async () => {
  await replica?.close();
  await login?.close();
});

const appCode = (secret: string, aheadS = 0) => generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + aheadS });

/** An authenticator app enrolled through `app`'s own factors (and so remembered by that process). */
async function enrolApp(app: NestFastifyApplication, userId: string): Promise<void> {
  const factors = app.get(SecondFactors);
  const started = await factors.startTotp(tenant.id, userId);
  if (!('secret' in started)) throw new Error(`enrolment refused: ${started.rejected}`);
  expect('recoveryCodes' in (await factors.confirmTotp(tenant.id, userId, appCode(started.secret)))).toBe(true);
}

/** The password post of a fresh sign-in, and the statements it sent. */
async function postPassword(email: string) {
  const { browser, form } = await openSignInPage(config);
  return statementsSentBy(login.runtime.infrastructure.pool, () =>
    browser.request(form.action, { form: { ...form.fields, email, password: STRONG_PASSWORD } }),
  );
}

const asksForCode = (answer: { status: number; body: string }) => answer.status === 200 && answer.body.includes('name="code"');

it('knows from the interaction read whether a second factor is due: no read of the factors of its own', async () => {
  const withApp = await login.signUp(tenant.slug, 'with-app@example.com');
  await enrolApp(login.app, withApp.id);
  await login.signUp(tenant.slug, 'without@example.com');
  // The tenant's policy is read once, then remembered a while: not what this counts.
  expect((await postPassword('without@example.com')).result.status).toBe(303);

  const asked = await postPassword('with-app@example.com');
  expect(asksForCode(asked.result)).toBe(true);
  const signedIn = await postPassword('without@example.com');
  expect(signedIn.result.status).toBe(303);
  for (const { statements } of [asked, signedIn]) {
    expect(statements.get('login_oidc_find_interaction_with_latest_grant_and_factors')).toBe(1);
    expect(statements.get('tessera_es_read_stream') ?? 0).toBe(0);
  }
});

it('asks for a factor another replica enrolled since this one last saw the person', async () => {
  const { id } = await login.signUp(tenant.slug, 'enrolled-elsewhere@example.com');
  // This process remembers the person's factors: enrolled, then removed, here.
  await enrolApp(login.app, id);
  expect(await login.app.get(SecondFactors).reset(tenant.id, id)).toBe(true);
  expect(asksForCode((await postPassword('enrolled-elsewhere@example.com')).result)).toBe(false);
  // Another replica enrols an app.
  await enrolApp(replica.app, id);
  const { result, statements } = await postPassword('enrolled-elsewhere@example.com');
  expect(asksForCode(result)).toBe(true);
  // What this process remembered was behind: it read the factors' tail.
  expect(statements.get('tessera_es_read_stream')).toBe(1);
});

it('signs in with the password alone once another replica removed the only factor', async () => {
  const { id } = await login.signUp(tenant.slug, 'removed-elsewhere@example.com');
  await enrolApp(login.app, id);
  expect(asksForCode((await postPassword('removed-elsewhere@example.com')).result)).toBe(true);
  expect(await replica.app.get(SecondFactors).reset(tenant.id, id)).toBe(true);
  const { result } = await postPassword('removed-elsewhere@example.com');
  expect(result.status).toBe(303);
  expect(asksForCode(result)).toBe(false);
});
