import type { Agent } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { generateSync } from 'otplib';
import type { Pool } from 'pg';
import { SecondFactors } from '../apps/login/src/mfa/second-factors';
import { BenchHttp, formOf, onToCode, openSignInPageOf } from './support/bench-browser';
import { runClosedLoops, type Throughput } from './support/measure';
import { pairedDetails, runPaired } from './support/paired';
import { cores, perSecond, ratioVerdict, type ScenarioResult } from './support/report';

export const TOTP_SIGN_IN_TARGET = 0.65;

interface TotpBenchSetup {
  readonly login: NestFastifyApplication;
  readonly loginUrl: string;
  readonly registerUrl: string;
  readonly pool: Pool;
  readonly agent: Agent;
  readonly slug: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly password: string;
  readonly concurrency: number;
  readonly repetitions: number;
  readonly windowMs: number;
  readonly warmUpMs: number;
  readonly log: (line: string) => void;
  /** The ceiling: one argon2id verification of the stored hash's parameters. */
  readonly verifyPassword: () => Promise<number>;
  readonly signUp: (email: string) => Promise<void>;
}

interface EnrolledPerson {
  readonly email: string;
  readonly secret: string;
}

/**
 * People enrolled per argon2id verification per second measured before enrolling: every sign-in
 * verifies one password, so the row cannot outrun that rate by much; the margin covers a machine
 * that speeds up between the measure and the windows.
 */
const PEOPLE_PER_MEASURED_VERIFICATION = 1.5;
/** How long argon2id is measured before enrolling, to size the people (and pages) to this machine. */
const SIZING_WINDOW_MS = 2000;

/**
 * Password + TOTP sign-ins: the form post of the password, then of the code, through to the
 * authorization code (sign-in pages opened before the window, as row 6), against argon2id
 * verifications in the same run. A TOTP code works once per
 * person and time step, so every sign-in is a different person, each with an authenticator enrolled
 * (through SecondFactors, as the account page does) before the windows; the codes are computed by
 * otplib, as an authenticator app would. Each person signed in once with their password before
 * enrolling, allowing the client then: the window measures returning people, as row 6 does (its
 * eight people allowed the client in its warm-up), not the consent page of a first visit.
 */
export async function benchTotpSignIns(setup: TotpBenchSetup): Promise<ScenarioResult> {
  /** A browser that followed the client's authorization request to the sign-in page. */
  const openSignInPage = async () => {
    const { browser, page } = await openSignInPageOf(setup.agent, setup.loginUrl, setup);
    return { browser, form: formOf(page.body) };
  };
  // Sized to this machine: a faster one signs more people in per window than a slower one.
  const sizing = await runClosedLoops(setup.concurrency, SIZING_WINDOW_MS, setup.verifyPassword);
  const signInsPerSecondAtMost = Math.ceil(sizing.perSecond * PEOPLE_PER_MEASURED_VERIFICATION);
  const people = await enrolPeople(setup, openSignInPage, signInsPerSecondAtMost);
  const next = (): EnrolledPerson => {
    const person = people.pop();
    if (!person) throw new Error('the people enrolled before the windows ran out');
    return person;
  };
  /** The password post, the code post, and on to the authorization code: what the row counts. */
  const submit = async ({ browser, form }: Awaited<ReturnType<typeof openSignInPage>>): Promise<number> => {
    const person = next();
    const asked = await browser.send('POST', form.action, { form: { csrf: form.csrf, email: person.email, password: setup.password } });
    if (asked.status !== 200) throw new Error(`password refused: ${asked.status}`);
    const step = formOf(asked.body);
    const code = generateSync({ secret: person.secret, epoch: Math.floor(Date.now() / 1000) });
    const answer = await browser.send('POST', step.action, { form: { csrf: step.csrf, code } });
    if (answer.status !== 303) throw new Error(`code refused: ${answer.status}`);
    // Everyone allowed the client at their first sign-in (before enrolling): no consent step here, as in row 6.
    // The code post resumes the authorization itself: its answer is the client's redirect with the code.
    if (!answer.location?.startsWith(`${setup.redirectUri}?code=`)) throw new Error(`no code: ${answer.status} ${answer.location}`);
    return 1;
  };
  /** Sign-in pages opened before the window (untimed), so the window counts the posts through to the code, as row 6 does. */
  const postsThroughToCode = async (): Promise<Throughput> => {
    const pages: Awaited<ReturnType<typeof openSignInPage>>[] = [];
    const wanted = Math.ceil((signInsPerSecondAtMost * setup.windowMs) / 1000);
    await Promise.all(
      Array.from({ length: setup.concurrency }, async () => {
        while (pages.length < wanted) pages.push(await openSignInPage());
      }),
    );
    // Past the pages opened before, a page is opened inside the window: counted against the figure, never failing it.
    return runClosedLoops(setup.concurrency, setup.windowMs, async () => submit(pages.pop() ?? (await openSignInPage())));
  };
  const summary = await runPaired({
    label: 'sign-ins with TOTP (form posts to code)',
    repetitions: setup.repetitions,
    warmUp: async () => {
      await runClosedLoops(setup.concurrency, setup.warmUpMs, setup.verifyPassword);
      await runClosedLoops(setup.concurrency, setup.warmUpMs, async () => submit(await openSignInPage()));
    },
    ceiling: () => runClosedLoops(setup.concurrency, setup.windowMs, setup.verifyPassword),
    figure: postsThroughToCode,
    log: setup.log,
  });
  return {
    id: 'login-totp-sign-ins',
    title: `Password + TOTP sign-ins, password post and code post through to the code, pages opened before the window (${setup.concurrency} concurrent, one person each) vs argon2id verifications`,
    rows: [
      {
        measure: `6b. password + TOTP sign-ins x${setup.concurrency}`,
        figure: perSecond(summary.medianFigure, 'sign-ins'),
        ceiling: `${perSecond(summary.medianCeiling, 'verifications')} argon2id`,
        ratio: summary.medianRatio.toFixed(2),
        target: `>= ${TOTP_SIGN_IN_TARGET}`,
        verdict: ratioVerdict(summary.medianRatio, TOTP_SIGN_IN_TARGET),
        neighbours: cores(summary.neighbourCores),
      },
    ],
    details: { concurrency: setup.concurrency, people: 'one per sign-in, enrolled before the windows', ...pairedDetails(summary) },
  };
}

/** People signed up through register, then an authenticator enrolled for each (confirmed with the previous step's code). */
async function enrolPeople(
  setup: TotpBenchSetup,
  openSignInPage: () => Promise<{ browser: BenchHttp; form: { action: string; csrf: string } }>,
  signInsPerSecondAtMost: number,
): Promise<EnrolledPerson[]> {
  const windows = setup.repetitions * setup.windowMs + setup.warmUpMs;
  const count = Math.ceil((signInsPerSecondAtMost * windows) / 1000);
  setup.log(`  signing up and enrolling ${count} people with an authenticator`);
  const emails = Array.from({ length: count }, (_, i) => `totp${i}@bench.example`);
  for (let i = 0; i < emails.length; i += setup.concurrency) await Promise.all(emails.slice(i, i + setup.concurrency).map(setup.signUp));
  const { rows } = await waitForCredentials(setup, count);
  setup.log(`  signing each in once with their password, allowing the client (returning people, as in row 6)`);
  for (let i = 0; i < rows.length; i += setup.concurrency)
    await Promise.all(rows.slice(i, i + setup.concurrency).map(async (row) => firstSignIn(setup, await openSignInPage(), row.email)));
  const factors = setup.login.get(SecondFactors);
  const people: EnrolledPerson[] = [];
  for (const row of rows) {
    const started = await factors.startTotp(setup.tenantId, row.user_id);
    if (!('secret' in started)) throw new Error(`enrolment refused: ${started.rejected}`);
    const { secret } = started;
    // The previous step's code: the sign-in's current code is then still unused.
    const confirmed = await factors.confirmTotp(
      setup.tenantId,
      row.user_id,
      generateSync({ secret, epoch: Math.floor(Date.now() / 1000) - 30 }),
    );
    if (!('recoveryCodes' in confirmed)) throw new Error(`enrolment refused: ${confirmed.rejected}`);
    people.push({ email: row.email, secret });
  }
  return people;
}

/** A password sign-in through to the code, allowing the client on the way: what a returning person did once. */
async function firstSignIn(
  setup: TotpBenchSetup,
  { browser, form }: { browser: BenchHttp; form: { action: string; csrf: string } },
  email: string,
) {
  const answer = await browser.send('POST', form.action, { form: { csrf: form.csrf, email, password: setup.password } });
  if (answer.status !== 303) throw new Error(`first sign-in refused: ${answer.status}`);
  await onToCode(browser, answer.location!, setup.redirectUri);
}

async function waitForCredentials(setup: TotpBenchSetup, count: number) {
  for (let i = 0; ; i++) {
    const found = await setup.pool.query<{ user_id: string; email: string }>(
      "SELECT user_id, email FROM login_credentials WHERE tenant_id = $1 AND email LIKE 'totp%@bench.example'",
      [setup.tenantId],
    );
    if (found.rows.length >= count) return found;
    if (i > 1000) throw new Error('login did not learn the people of the TOTP row');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
