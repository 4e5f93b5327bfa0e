import * as oidc from 'openid-client';
import request from 'supertest';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServiceApp } from '../../../libs/platform/src/service-app';
import { RegisterModule } from '../../register/src/register.module';
import { openRegisterRuntime, registerServiceOptions } from '../../register/src/register.runtime';
import { LoginJwksVerifier } from '../src/access/login-jwks-verifier';
import { TESSERA_API_AUDIENCE } from '../src/oidc/provider-factory';
import { startLogin, type LoginHarness } from './login-harness';
import { signInThroughPages } from './sign-in-flow';

const insecure = { execute: [oidc.allowInsecureRequests] };

let login: LoginHarness;
let registerWithLogin: NestFastifyApplication;

beforeAll(async () => {
  login = await startLogin();
  // Register wired the way its main.ts should be once it trusts login: same database and master key.
  const runtime = await openRegisterRuntime(login.register.config, { accessTokens: new LoginJwksVerifier(login.url) });
  registerWithLogin = await createServiceApp(RegisterModule.forRoot(runtime), { ...registerServiceOptions(login.register.config), processMetrics: false });
});

afterAll(async () => {
  await registerWithLogin?.close();
  await login?.close();
});

describe("register's /t/{tenant}/me with login's access tokens", () => {
  it("accepts a person's JWT for Tessera's API and refuses a client's token and another tenant's", async () => {
    const tenant = await login.createTenant();
    const other = await login.createTenant();
    await login.signUp(tenant.slug, 'ada@example.com', { profile: { givenName: 'Ada' } });
    const client = await login.registerClient(tenant.slug, {
      name: 'Web',
      type: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      redirectUris: ['http://localhost:9/callback'],
    });
    const config = await oidc.discovery(new URL(login.issuer(tenant.slug)), client.clientId, client.clientSecret, oidc.ClientSecretBasic(client.clientSecret!), insecure);
    const { callback, verifier, state } = await signInThroughPages(tenant.slug, config, { resource: TESSERA_API_AUDIENCE }, 'ada@example.com');
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, { resource: TESSERA_API_AUDIENCE });
    const http = () => request(registerWithLogin.getHttpServer());

    const me = await http().get(`/t/${tenant.slug}/me`).set('authorization', `Bearer ${tokens.access_token}`);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: 'ada@example.com' });

    const elsewhere = await http().get(`/t/${other.slug}/me`).set('authorization', `Bearer ${tokens.access_token}`);
    expect(elsewhere.status).toBe(403);
    const service = await oidc.clientCredentialsGrant(config, { resource: TESSERA_API_AUDIENCE });
    expect((await http().get(`/t/${tenant.slug}/me`).set('authorization', `Bearer ${service.access_token}`)).status).toBe(401);
  });
});
