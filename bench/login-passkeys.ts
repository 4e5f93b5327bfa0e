import type { Agent } from 'node:http';
import { verifyAuthenticationResponse, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Pool } from 'pg';
import { Passkeys, passkeyRegistrationBody, relyingPartyOf } from '../apps/login/src/mfa/passkeys';
import { SoftwarePasskey } from '../test/support/software-authenticator';
import { startBareProvider } from './support/bare-oidc-provider';
import { PasskeyBrowsers } from './support/passkey-browsers';
import { median, runClosedLoops, type Throughput } from './support/measure';
import { pairedDetails, runPaired } from './support/paired';
import { cores, perSecond, type ScenarioResult } from './support/report';

export const PASSKEY_SIGN_INS_TARGET = 400;
export const PASSKEY_P99_TARGET_MS = 50;
/** Sign-in pages opened per second of window, before it: above the rate this row reaches here. */
const PREPARED_PAGES_PER_SECOND = 700;
/** Interactions the bare provider opens per second of window, before it: above what it finishes here. */
const PREPARED_BARE_PER_SECOND = 1500;

interface PasskeyBenchSetup {
  readonly login: NestFastifyApplication;
  readonly loginUrl: string;
  readonly pool: Pool;
  readonly agent: Agent;
  readonly slug: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly concurrency: number;
  readonly repetitions: number;
  readonly windowMs: number;
  readonly warmUpMs: number;
  readonly log: (line: string) => void;
  readonly signUp: (email: string) => Promise<void>;
}

interface PasskeyPerson {
  readonly userId: string;
  readonly passkey: SoftwarePasskey;
}

/**
 * Passkey sign-ins without a password (no argon2id): from a sign-in page opened before the window
 * (which carries its options and sealed challenge, as the page's script takes them for the
 * browser's passkey autofill), the assertion (verified with @simplewebauthn/server and recorded as
 * PasskeyUsed) and on to the authorization code, against
 * the library's own verification of an assertion in the same run (the ceiling: the signature
 * check and the parsing it costs, nothing of HTTP or storage). The browsers and their software
 * authenticators (node:crypto ES256, test/support) run on a thread of their own (PasskeyBrowsers),
 * as browsers never share login's event loop; their CPU, signing included, is charged to the
 * figure. One person per concurrent client, each with their passkey (signature counts move
 * forward one sign-in at a time, as one device's would).
 */
export async function benchPasskeySignIns(setup: PasskeyBenchSetup): Promise<ScenarioResult> {
  const people = await enrolPeople(setup);
  const origin = new URL(setup.loginUrl).origin;
  const browsers = new PasskeyBrowsers({
    loginUrl: setup.loginUrl,
    slug: setup.slug,
    clientId: setup.clientId,
    redirectUri: setup.redirectUri,
    sockets: setup.concurrency,
    // The passkeys go to the browsers' thread; this one signs nothing from here on.
    passkeys: people.map((person) => person.passkey.transfer()),
  });
  // The first sign-in of each person allows the client once (in the warm-up).
  const warmUp = (): Promise<Throughput> => browsers.signIns(setup.concurrency, setup.warmUpMs);
  const throughToCode = async (): Promise<Throughput> => {
    await browsers.openPages(Math.ceil((PREPARED_PAGES_PER_SECOND * setup.windowMs) / 1000));
    // Past the pages opened before, a page is opened inside the window: counted against the figure, never failing it.
    return browsers.signIns(setup.concurrency, setup.windowMs);
  };
  try {
    return await againstCeilings(setup, origin, warmUp, throughToCode);
  } finally {
    await browsers.close();
  }
}

/** The sign-ins paired with the library's verifications, then with the bare oidc-provider's codes. */
async function againstCeilings(
  setup: PasskeyBenchSetup,
  origin: string,
  warmUpSignIns: () => Promise<Throughput>,
  throughToCode: () => Promise<Throughput>,
): Promise<ScenarioResult> {
  const ceiling = await libraryVerification(setup.loginUrl, origin);
  const summary = await runPaired({
    label: 'passkey sign-ins (assertion, code)',
    repetitions: setup.repetitions,
    warmUp: async () => {
      await runClosedLoops(setup.concurrency, setup.warmUpMs, ceiling);
      await warmUpSignIns();
    },
    ceiling: () => runClosedLoops(setup.concurrency, setup.windowMs, ceiling),
    figure: throughToCode,
    log: setup.log,
  });
  // The competitor in the same run: oidc-provider alone, from its interaction to the code.
  const bare = await startBareProvider(setup.agent);
  let versusBare: Awaited<ReturnType<typeof runPaired>>;
  try {
    const bareFromInteraction = async (): Promise<Throughput> => {
      const wanted = Math.ceil((PREPARED_BARE_PER_SECOND * setup.windowMs) / 1000);
      const opened: Awaited<ReturnType<typeof bare.openInteraction>>[] = [];
      while (opened.length < wanted) opened.push(await bare.openInteraction());
      return runClosedLoops(setup.concurrency, setup.windowMs, async () => bare.finish(opened.pop() ?? (await bare.openInteraction())));
    };
    versusBare = await runPaired({
      label: 'passkey sign-ins vs bare oidc-provider',
      repetitions: setup.repetitions,
      warmUp: async () => void (await bareFromInteraction()),
      ceiling: bareFromInteraction,
      figure: throughToCode,
      log: setup.log,
    });
  } finally {
    await bare.close();
  }
  const p99 = median(summary.runs.map((run) => run.figure.stepMs.p99));
  const passes = summary.medianFigure >= PASSKEY_SIGN_INS_TARGET && p99 < PASSKEY_P99_TARGET_MS;
  return {
    id: 'login-passkey-sign-ins',
    title: `Passkey sign-ins without a password, options + assertion through to the code, pages opened before the window (${setup.concurrency} concurrent, one passkey each, browsers and authenticators on a thread of their own) vs @simplewebauthn/server verifyAuthenticationResponse`,
    rows: [
      {
        measure: `6c. passkey sign-ins x${setup.concurrency}`,
        figure: `${perSecond(summary.medianFigure, 'sign-ins')}, p99 ${p99.toFixed(1)} ms`,
        ceiling: `${perSecond(summary.medianCeiling, 'verifications')} library`,
        ratio: summary.medianRatio.toFixed(2),
        target: `>= ${PASSKEY_SIGN_INS_TARGET}/s, p99 < ${PASSKEY_P99_TARGET_MS} ms`,
        verdict: passes ? 'pass' : 'FAIL',
        neighbours: cores(summary.neighbourCores),
      },
      {
        measure: `   vs bare oidc-provider x${setup.concurrency}`,
        figure: perSecond(versusBare.medianFigure, 'sign-ins'),
        ceiling: `${perSecond(versusBare.medianCeiling, 'codes')} bare oidc-provider`,
        ratio: versusBare.medianRatio.toFixed(2),
        target: '-',
        verdict: 'info',
        neighbours: cores(versusBare.neighbourCores),
      },
    ],
    details: {
      concurrency: setup.concurrency,
      people: 'one per concurrent client, one passkey each',
      stepP99Ms: p99,
      ...pairedDetails(summary),
      versusBareOidcProvider: pairedDetails(versusBare),
      target: { perSecond: PASSKEY_SIGN_INS_TARGET, p99Ms: PASSKEY_P99_TARGET_MS },
    },
  };
}

/** People signed up through register, each with a passkey registered as the account page registers one. */
async function enrolPeople(setup: PasskeyBenchSetup): Promise<PasskeyPerson[]> {
  const emails = Array.from({ length: setup.concurrency }, (_, i) => `passkey${i}@bench.example`);
  await Promise.all(emails.map(setup.signUp));
  let rows: { user_id: string; email: string }[] = [];
  for (let i = 0; rows.length < emails.length; i++) {
    if (i > 500) throw new Error('login did not learn the passkey people');
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    ({ rows } = await setup.pool.query<{ user_id: string; email: string }>(
      'SELECT user_id, email FROM login_credentials WHERE tenant_id = $1 AND email = ANY($2::text[])',
      [setup.tenantId, emails],
    ));
  }
  const passkeys = setup.login.get(Passkeys);
  const origin = new URL(setup.loginUrl).origin;
  return Promise.all(
    rows.map(async (row) => {
      const binding = `account:bench-${row.user_id}`;
      const options = await passkeys.registrationOptions(
        { tenantId: setup.tenantId, name: 'Bench' },
        { userId: row.user_id, email: row.email },
        binding,
      );
      const passkey = new SoftwarePasskey(origin);
      const body = passkeyRegistrationBody.parse({ csrf: 'bench', name: 'Bench passkey', response: passkey.register(options) });
      const registered = await passkeys.register(setup.tenantId, row.user_id, binding, body);
      if (!registered.ok) throw new Error(`passkey registration refused: ${registered.reason}`);
      return { userId: row.user_id, passkey };
    }),
  );
}

/** The ceiling: the library verifying one assertion of a registered key, as login asks it to (user verification required). */
async function libraryVerification(loginUrl: string, origin: string): Promise<() => Promise<number>> {
  const rp = relyingPartyOf(loginUrl);
  const passkey = new SoftwarePasskey(origin, undefined, false);
  const { verifyRegistrationResponse } = await import('@simplewebauthn/server');
  const challenge = Buffer.alloc(32, 7).toString('base64url');
  const registration = await verifyRegistrationResponse({
    response: passkey.register({ challenge, rp: { id: rp.id }, user: { id: Buffer.from('bench').toString('base64url') } }),
    expectedChallenge: challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.id,
    requireUserVerification: true,
  });
  if (!registration.verified) throw new Error('the ceiling passkey did not register');
  const { credential } = registration.registrationInfo;
  const assertion = passkey.assert({ challenge, rpId: rp.id }) as AuthenticationResponseJSON;
  return async () => {
    const verification = await verifyAuthenticationResponse({
      response: assertion,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: { id: credential.id, publicKey: credential.publicKey, counter: 0 },
      requireUserVerification: true,
    });
    if (!verification.verified) throw new Error('the ceiling assertion did not verify');
    return 1;
  };
}
