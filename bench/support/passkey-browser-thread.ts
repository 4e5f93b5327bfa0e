import { Agent } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { SoftwarePasskey } from '../../test/support/software-authenticator';
import { onToCode, openSignInPageOf, passkeyBlockOf, type BenchHttp } from './bench-browser';
import type { PasskeyBrowsersAnswer, PasskeyBrowsersData, PasskeyBrowsersRequest } from './passkey-browsers';
import { closedLoops, type LoopsRun } from './measure';

/**
 * The browsers and authenticators of the passkey row (see PasskeyBrowsers), on a thread of their
 * own, with the closed loops of its windows. Each request is answered with its id once done (and a
 * window's outcome), or with the error's message if it failed.
 */
const data = workerData as PasskeyBrowsersData;
const agent = new Agent({ keepAlive: true, maxSockets: data.sockets, maxFreeSockets: data.sockets });
const passkeys = data.passkeys.map((transferred) => SoftwarePasskey.restore(transferred));
let pages: (ReturnType<typeof passkeyBlockOf> & { browser: BenchHttp })[] = [];

async function openSignInPage() {
  const { browser, page } = await openSignInPageOf(agent, data.loginUrl, data);
  return { browser, ...passkeyBlockOf(page.body) };
}

/**
 * The assertion to the options the page carries (asked for, as the page's script would, when it
 * carries none), and on to the code: what a passkey sign-in costs from the page to the application.
 */
async function signIn(person: number): Promise<void> {
  const page = pages.pop() ?? (await openSignInPage());
  const passkey = passkeys[person % passkeys.length]!;
  const response = passkey.assert(page.request ?? (await askedOptions(page)));
  const verified = await page.browser.send('POST', page.verify, { json: { csrf: page.csrf, response } });
  if (verified.status !== 200) throw new Error(`passkey refused: ${verified.status} ${verified.body.slice(0, 200)}`);
  await onToCode(page.browser, (JSON.parse(verified.body) as { location: string }).location, data.redirectUri);
}

async function askedOptions(page: (typeof pages)[number]): Promise<{ challenge: string; rpId: string }> {
  const options = await page.browser.send('POST', page.options, { json: { csrf: page.csrf } });
  if (options.status !== 200) throw new Error(`no passkey options: ${options.status}`);
  return JSON.parse(options.body) as { challenge: string; rpId: string };
}

/** Sign-in pages for the next window, `sockets` at a time; those left from the last window are dropped. */
async function openPages(count: number): Promise<void> {
  const opened: typeof pages = [];
  await Promise.all(
    Array.from({ length: data.sockets }, async () => {
      while (opened.length < count) opened.push(await openSignInPage());
    }),
  );
  pages = opened;
}

/** Each concurrent client signs in as its own person, one sign-in after another, until the window ends. */
function signIns(concurrency: number, windowMs: number): Promise<LoopsRun> {
  return closedLoops(concurrency, windowMs, async (person) => {
    await signIn(person);
    return 1;
  });
}

parentPort!.on('message', (request: PasskeyBrowsersRequest) => {
  const work = request.kind === 'open-pages' ? openPages(request.count) : signIns(request.concurrency, request.windowMs);
  work.then(
    (result) => parentPort!.postMessage({ id: request.id, ...(result ? { result } : {}) } satisfies PasskeyBrowsersAnswer),
    (error: unknown) =>
      parentPort!.postMessage({
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      } satisfies PasskeyBrowsersAnswer),
  );
});
