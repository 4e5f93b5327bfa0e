import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { createTestDatabase } from '../../../test/support/database';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { factorsStreamFor } from '../src/mfa/factors.events';
import { SecondFactors } from '../src/mfa/second-factors';
import { PasswordCheck } from '../src/sign-in/password-check';
import { LoginSucceeded, signInStreamFor } from '../src/sign-in/sign-in.events';
import { LoginEventLog } from '../src/login-events';
import { REVISION_REFUSED_SQLSTATE, WrongExpectedRevisionError } from '#eventstore';
import { FormBrowser } from './browser-less';
import { startLogin, statementsSentBy, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI } from './sign-in-flow';

/**
 * The code step of a two-step sign-in, through HTTP: a right code is stored in the sign-in's own
 * statement (the code counts as used exactly when the sign-in stands), and one code posted on two
 * sign-ins at once signs in one of them.
 */
let login: LoginHarness;
let tenant: { id: string; slug: string };
let config: oidc.Configuration;

/** A login (and register) for the describe block that calls it, with `env`; closed after it. */
function useLogin(env: () => Promise<Record<string, string>> = async () => ({})): void {
  beforeAll(async () => {
    login = await startLogin(await env());
    tenant = await login.createTenant();
    const { clientId } = await login.registerClient(tenant.slug, { name: 'App', type: 'public', redirectUris: [REDIRECT_URI] });
    config = await oidc.discovery(new URL(login.issuer(tenant.slug)), clientId, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  });
  afterAll(() => login?.close());
}

const appCode = (secret: string, aheadS = 0) => generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + aheadS });

/** A person with an authenticator app, confirmed with the current code. */
async function personWithApp(email: string): Promise<{ userId: string; secret: string }> {
  const { id } = await login.signUp(tenant.slug, email);
  const factors = login.app.get(SecondFactors);
  await factors.startTotp(tenant.id, id);
  const secret = (await factors.pendingSecret(tenant.id, id))!;
  expect('recoveryCodes' in (await factors.confirmTotp(tenant.id, id, appCode(secret)))).toBe(true);
  return { userId: id, secret };
}

/** A sign-in past the password, at the code step: the browser and the code form. */
async function atCodeStep(email: string) {
  const { browser, form } = await openSignInPage(config);
  const asked = await browser.request(form.action, { form: { ...form.fields, email, password: STRONG_PASSWORD } });
  expect(asked.status).toBe(200);
  expect(asked.body).toContain('name="code"');
  return { browser, codeForm: FormBrowser.form(asked) };
}

async function eventsOf(streamName: string) {
  return login.runtime.infrastructure.eventStore.readStream(streamName);
}

describe('the code step of a two-step sign-in', () => {
  useLogin();

  it('stores a right code and the sign-in it completes in one statement, which carries the interaction result too', async () => {
    const email = 'one-statement@example.com';
    const { userId, secret } = await personWithApp(email);
    const { browser, codeForm } = await atCodeStep(email);
    const { result: answer, statements } = await statementsSentBy(login.runtime.infrastructure.pool, () =>
      browser.request(codeForm.action, { form: { ...codeForm.fields, code: appCode(secret, 30) } }),
    );
    expect(answer.status).toBe(303);
    // The interaction was read once, with the latest grant of the person at its second step (none yet): no grant read of its own.
    expect(statements.get('login_oidc_find_interaction_with_latest_grant')).toBe(1);
    expect(statements.get('login_oidc_latest_grant') ?? 0).toBe(0);
    let step = await browser.follow(answer.location!, REDIRECT_URI);
    if (!step.location) {
      const consent = FormBrowser.form(step);
      step = await browser.follow(
        (await browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } })).location!,
        REDIRECT_URI,
      );
    }
    expect(step.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);

    // The enrolment's confirmation was a verification too; the code step's is the last.
    const verified = (await eventsOf(factorsStreamFor(tenant.id, userId)))
      .filter((event) => event.type === 'SecondFactorVerified')
      .slice(1);
    const accountKey = login.app.get(PasswordCheck).accountKeyOf(tenant.id, email);
    const signedIn = (await eventsOf(signInStreamFor(tenant.id, accountKey))).filter((event) => event.type === 'LoginSucceeded');
    expect(verified).toHaveLength(1);
    expect(signedIn).toHaveLength(1);
    // One transaction: the code used and the sign-in it completed share their commit.
    expect(verified[0]!.position.commit).toBe(signedIn[0]!.position.commit);
    // The code post appends through that one statement only; the factors stream gets no append of its own.
    const appends = [...statements].filter(([name]) => name.startsWith('tessera_es_append'));
    expect(appends).toEqual([[expect.stringMatching(/^tessera_es_append_beside_.*_expecting$/), 1]]);
  });

  it(
    'one code posted on two sign-ins at once signs in one; the other is told the code was used, and nothing of it is stored',
    oneCodeTwoSignIns,
  );

  it('a sign-in whose statement is refused (its factors moved meanwhile) is decided again and resumes the authorization afresh', async () => {
    const email = 'refused-once@example.com';
    const { userId, secret } = await personWithApp(email);
    const { browser, codeForm } = await atCodeStep(email);
    const factors = factorsStreamFor(tenant.id, userId);
    const pool = login.runtime.infrastructure.pool;
    // The first statement that would record this person's sign-in fails as a moved factors stream fails it (the
    // guard's SQLSTATE, naming that stream); a sequence counts attempts, as the failed statement's writes roll back.
    await pool.query('CREATE SEQUENCE test_refuse_once');
    await pool.query(`CREATE FUNCTION test_refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.type = 'LoginSucceeded' AND nextval('test_refuse_once') = 1 THEN
        RAISE EXCEPTION 'moved' USING ERRCODE = '${REVISION_REFUSED_SQLSTATE}', DETAIL = '${factors}';
      END IF; RETURN NEW; END $$`);
    await pool.query('CREATE TRIGGER test_refuse_once BEFORE INSERT ON es_events FOR EACH ROW EXECUTE FUNCTION test_refuse_once()');
    let answer: Awaited<ReturnType<FormBrowser['request']>>;
    try {
      answer = await browser.request(codeForm.action, { form: { ...codeForm.fields, code: appCode(secret, 30) } });
      expect((await pool.query<{ last_value: string }>('SELECT last_value FROM test_refuse_once')).rows[0]!.last_value).toBe('2');
    } finally {
      await pool.query('DROP TRIGGER test_refuse_once ON es_events; DROP FUNCTION test_refuse_once(); DROP SEQUENCE test_refuse_once');
    }
    // Two attempts; the second resumed the authorization as the first would have: one session, on to consent.
    expect(answer.status).toBe(303);
    expect(answer.location).toMatch(new RegExp(`/t/${tenant.slug}/interaction/[^/?]+$`));
    const setCookies = answer.headers.getSetCookie().map((line) => line.split('=', 1)[0]);
    expect(setCookies.filter((name) => name === '_session')).toHaveLength(1);
    const consent = FormBrowser.form(await browser.request(answer.location!));
    const allowed = await browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } });
    const step = await browser.follow(allowed.location!, REDIRECT_URI);
    expect(step.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    const accountKey = login.app.get(PasswordCheck).accountKeyOf(tenant.id, email);
    expect((await eventsOf(signInStreamFor(tenant.id, accountKey))).filter((event) => event.type === 'LoginSucceeded')).toHaveLength(1);
    expect((await eventsOf(factors)).filter((event) => event.type === 'SecondFactorVerified')).toHaveLength(2);
  });
});

describe('the code step, with the event store in a database of its own (the sign-in is stored beside the code, not with it)', () => {
  useLogin(async () => ({ EVENTSTORE_URL: await createTestDatabase('events') }));

  it('has its events where login cannot append beside its own writes', async () => {
    const { pool } = login.runtime.infrastructure;
    expect((await pool.query<{ log: string | null }>("SELECT to_regclass('es_events')::text AS log")).rows[0]!.log).toBeNull();
  });

  it('records a sign-in only once the decision it rests on is stored at the revision it was decided on', async () => {
    const { userId } = await personWithApp('beside@example.com');
    const factors = factorsStreamFor(tenant.id, userId);
    const stored = await eventsOf(factors);
    const last = stored.at(-1)!;
    const decided = (expectedRevision: bigint) => ({
      streamName: factors,
      expectedRevision,
      events: [{ type: last.type, data: last.data, metadata: last.metadata }],
    });
    const signedIn = (accountKey: string) => ({
      streamName: signInStreamFor(tenant.id, accountKey),
      events: [LoginSucceeded({ accountKey, userId, clientId: 'app', at: new Date().toISOString() })],
    });
    const log = login.app.get(LoginEventLog);

    await expect(log.recordAllWith(tenant.id, [signedIn('stale')], [], decided(last.revision - 1n))).rejects.toBeInstanceOf(
      WrongExpectedRevisionError,
    );
    expect(await eventsOf(signInStreamFor(tenant.id, 'stale'))).toEqual([]);
    expect(await eventsOf(factors)).toHaveLength(stored.length);

    const result = await log.recordAllWith(tenant.id, [signedIn('held')], [], decided(last.revision));
    expect(result?.nextExpectedRevision).toBe(last.revision + 1n);
    expect(await eventsOf(signInStreamFor(tenant.id, 'held'))).toHaveLength(1);
  });

  it(
    'one code posted on two sign-ins at once still signs in one: the code goes first, and the refused sign-in stores nothing',
    oneCodeTwoSignIns,
  );
});

async function oneCodeTwoSignIns(): Promise<void> {
  const email = 'two-tabs@example.com';
  const { userId, secret } = await personWithApp(email);
  const [first, second] = [await atCodeStep(email), await atCodeStep(email)];
  const verifications = async () =>
    (await eventsOf(factorsStreamFor(tenant.id, userId))).filter((event) => event.type === 'SecondFactorVerified').length;
  const before = await verifications();
  const code = appCode(secret, 30);
  // One post to each of two replicas: in one process the two would take turns on the person's factors.
  const replica = await login.startReplica();
  const onReplica = new URL(new URL(second.codeForm.action).pathname, replica.url).href;
  const answers = await Promise.all([
    first.browser.request(first.codeForm.action, { form: { ...first.codeForm.fields, code } }),
    second.browser.request(onReplica, { form: { ...second.codeForm.fields, code } }),
  ]).finally(() => replica.close());
  expect(answers.map((answer) => answer.status).sort()).toEqual([303, 401]);
  expect(answers.find((answer) => answer.status === 401)!.body).toContain('used already');

  expect(await verifications()).toBe(before + 1);
  const accountKey = login.app.get(PasswordCheck).accountKeyOf(tenant.id, email);
  expect((await eventsOf(signInStreamFor(tenant.id, accountKey))).filter((event) => event.type === 'LoginSucceeded')).toHaveLength(1);
}
