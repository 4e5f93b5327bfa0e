import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import bcryptjs from 'bcryptjs';
import * as oidc from 'openid-client';
import { accountStreamFor } from '#contracts';
import { eventually } from '#platform/testing';
import { startLogin, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI } from './sign-in-flow';

/**
 * People moved in with the hashes of the systems they come from, each made by that format's
 * reference implementation, sign in through the hosted page with their old password; the first
 * sign-in replaces the hash by argon2id (PasswordRehashed), and the password keeps working.
 */
let login: LoginHarness;
let tenant: { id: string; slug: string; apiKey: string };
let clientId: string;

function keycloakCredential(password: string) {
  const salt = randomBytes(16);
  return {
    id: 'b1e1f0d2-6f55-4c55-9a0e-6f3d2a1c0b9e',
    type: 'password',
    createdDate: 1_690_000_000_000,
    secretData: JSON.stringify({
      value: pbkdf2Sync(password, salt, 27_500, 64, 'sha256').toString('base64'),
      salt: salt.toString('base64'),
    }),
    credentialData: JSON.stringify({ hashIterations: 27_500, algorithm: 'pbkdf2-sha256', additionalParameters: {} }),
  };
}

/** One person per format: external id, e-mail, the old password, and the password object as an import sends it. */
async function people() {
  return [
    ['bcrypt', 'bcrypt@example.com', 'bcrypt old password', { format: 'bcrypt', hash: bcryptjs.hashSync('bcrypt old password', 10) }],
    [
      'keycloak',
      'keycloak@example.com',
      'keycloak old password',
      { format: 'keycloak', credential: keycloakCredential('keycloak old password') },
    ],
    [
      'firebase',
      'firebase@example.com',
      'user1password',
      {
        format: 'firebase-scrypt',
        signerKey: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==',
        saltSeparator: 'Bw==',
        rounds: 8,
        memCost: 14,
        salt: '42xEC+ixf3L2lw==',
        hash: 'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
      },
    ],
    [
      'argon2i',
      'argon2i@example.com',
      'argon2i old password',
      {
        format: 'argon2i',
        hash: await argon2Hash('argon2i old password', { algorithm: 1, memoryCost: 4096, timeCost: 3, parallelism: 1 }),
      },
    ],
  ] as const;
}

beforeAll(async () => {
  login = await startLogin();
  tenant = (await login.createTenant()) as typeof tenant;
  ({ clientId } = await login.registerClient(tenant.slug, { name: 'App', type: 'public', redirectUris: [REDIRECT_URI] }));
});

afterAll(() => login?.close());

/** Imports people through register's API with the tenant's key: one NDJSON line each. */
function importPeople(people: readonly object[]) {
  return login.register
    .http()
    .post(`/t/${tenant.slug}/users/import`)
    .set('authorization', `Bearer ${tenant.apiKey}`)
    .set('content-type', 'application/x-ndjson')
    .send(people.map((person) => JSON.stringify(person)).join('\n'));
}

async function signIn(email: string, password: string): Promise<number> {
  const config = await oidc.discovery(new URL(login.issuer(tenant.slug)), clientId, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  const { browser, form } = await openSignInPage(config);
  return (await browser.request(form.action, { form: { ...form.fields, email, password } })).status;
}

const credentialRow = async (userId: string) =>
  (
    await login.runtime.infrastructure.pool.query<{ password_hash: string | null; legacy_password: { format: string } | null }>(
      'SELECT password_hash, legacy_password FROM login_credentials WHERE tenant_id = $1 AND user_id = $2',
      [tenant.id, userId],
    )
  ).rows[0];

test('each imported format signs in once with the old password, is replaced by argon2id, and the password still works', async () => {
  const everyone = await people();
  const imported = await importPeople(
    everyone.map(([externalId, email, , password]) => ({ externalId, email, emailVerified: true, password })),
  );
  expect(imported.body).toMatchObject({ imported: everyone.length, failed: [] });
  const ids = new Map<string, string>(
    imported.body.accounts.map((account: { externalId: string; id: string }) => [account.externalId, account.id]),
  );

  for (const [externalId, email, password] of everyone) {
    const userId = ids.get(externalId)!;
    await eventually(async () => expect((await credentialRow(userId))?.legacy_password).toBeTruthy(), {
      what: 'login to learn the import',
    });
    expect((await credentialRow(userId))?.password_hash).toBeNull();

    expect([externalId, await signIn(email, `${password}!`)]).toEqual([externalId, 401]);
    expect([externalId, await signIn(email, password)]).toEqual([externalId, 303]);

    const stream = await login.runtime.infrastructure.eventStore.readStream(accountStreamFor(tenant.id, userId));
    expect(stream.map((event) => event.type)).toEqual(['UserImported', 'PasswordRehashed']);
    await eventually(async () => expect((await credentialRow(userId))?.legacy_password).toBeNull(), {
      what: 'the rehash in the read model',
    });
    const row = await credentialRow(userId);
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await argon2Verify(row!.password_hash!, password)).toBe(true);

    expect([externalId, await signIn(email, password)]).toEqual([externalId, 303]);
    // Replaced once: a later sign-in has nothing left to replace.
    const after = await login.runtime.infrastructure.eventStore.readStream(accountStreamFor(tenant.id, userId));
    expect(after.map((event) => event.type)).toEqual(['UserImported', 'PasswordRehashed']);
  }
});

test('a person imported without a hash cannot sign in until a reset, whatever they type', async () => {
  const imported = await importPeople([{ externalId: 'no-hash', email: 'no-hash@example.com', emailVerified: true, password: null }]);
  const userId: string = imported.body.accounts[0].id;
  await eventually(async () => expect(await credentialRow(userId)).toBeDefined(), { what: 'login to learn the import' });
  expect(await signIn('no-hash@example.com', 'tessera-dummy-password-for-timing')).toBe(401);
  expect(await signIn('no-hash@example.com', 'any password at all')).toBe(401);
});

test('when the rehash cannot be stored the sign-in still succeeds, and the next sign-in replaces the hash', async () => {
  const imported = await importPeople([
    {
      externalId: 'refused-rehash',
      email: 'refused-rehash@example.com',
      emailVerified: true,
      password: { format: 'bcrypt', hash: bcryptjs.hashSync('a legacy password', 4) },
    },
  ]);
  const userId: string = imported.body.accounts[0].id;
  await eventually(async () => expect((await credentialRow(userId))?.legacy_password).toBeTruthy(), { what: 'login to learn the import' });
  const pool = login.runtime.infrastructure.pool;
  await pool.query(`CREATE FUNCTION test_refuse_rehash() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.type = 'PasswordRehashed' THEN RAISE EXCEPTION 'storage refused the rehash'; END IF; RETURN NEW; END $$`);
  await pool.query('CREATE TRIGGER test_refuse_rehash BEFORE INSERT ON es_events FOR EACH ROW EXECUTE FUNCTION test_refuse_rehash()');
  let refused: number;
  try {
    refused = await signIn('refused-rehash@example.com', 'a legacy password');
  } finally {
    await pool.query('DROP TRIGGER test_refuse_rehash ON es_events; DROP FUNCTION test_refuse_rehash()');
  }
  expect(refused).toBe(303);
  const types = async () =>
    (await login.runtime.infrastructure.eventStore.readStream(accountStreamFor(tenant.id, userId))).map((event) => event.type);
  expect(await types()).toEqual(['UserImported']);
  expect((await credentialRow(userId))?.legacy_password).toBeTruthy();

  expect(await signIn('refused-rehash@example.com', 'a legacy password')).toBe(303);
  expect(await types()).toEqual(['UserImported', 'PasswordRehashed']);
});

/** Imports `count` people sharing one hash; returns their addresses once login knows them all. */
async function importMany(prefix: string, count: number, password: object): Promise<string[]> {
  const people = Array.from({ length: count }, (_, n) => ({
    externalId: `${prefix}-${n}`,
    email: `${prefix}-${n}@example.com`,
    emailVerified: true,
    password,
  }));
  const imported = await importPeople(people);
  expect(imported.body).toMatchObject({ imported: count, failed: [] });
  for (const { id } of imported.body.accounts as { id: string }[])
    await eventually(async () => expect((await credentialRow(id))?.legacy_password).toBeTruthy(), { what: 'login to learn the import' });
  return people.map((person) => person.email);
}

/** Opens one sign-in page per address, then posts every form at once with a wrong password. */
async function wrongPasswordsAtOnce(emails: readonly string[]): Promise<number[]> {
  const config = await oidc.discovery(new URL(login.issuer(tenant.slug)), clientId, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  const pages = await Promise.all(emails.map(() => openSignInPage(config)));
  return Promise.all(
    pages.map(
      async ({ browser, form }, n) =>
        (await browser.request(form.action, { form: { ...form.fields, email: emails[n]!, password: 'not it' } })).status,
    ),
  );
}

test("hashes an importer made heavy take the tenant's share of sign-ins by their work: one such verification at a time", async () => {
  // bcrypt cost 12 is about eighteen of our argon2id verifications, more than the whole share of eight.
  const heavy = await importMany('heavy', 6, { format: 'bcrypt', hash: bcryptjs.hashSync('an old password', 12) });
  const statuses = await wrongPasswordsAtOnce(heavy);
  expect(statuses.filter((status) => status !== 401 && status !== 429)).toEqual([]);
  expect(statuses.filter((status) => status === 401).length).toBeGreaterThanOrEqual(1);
  expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(1);

  // Keycloak's default PBKDF2 costs less than one of ours: six at once are all verified.
  const light = await importMany('light', 6, { format: 'keycloak', credential: keycloakCredential('an old password') });
  expect(await wrongPasswordsAtOnce(light)).toEqual([401, 401, 401, 401, 401, 401]);
});
