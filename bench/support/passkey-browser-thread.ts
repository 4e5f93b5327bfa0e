import { Agent } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { SoftwarePasskey } from '../../test/support/software-authenticator';
import { onToCode, openSignInPageOf, passkeyBlockOf, type BenchHttp } from './bench-browser';
import type { PasskeyBrowsersData, PasskeyBrowsersRequest } from './passkey-browsers';

/**
 * The browsers and authenticators of the passkey row (see PasskeyBrowsers), on a thread of their
 * own. Each request is answered with its id once done, and with the error's message if it failed.
 */
const data = workerData as PasskeyBrowsersData;
const agent = new Agent({ keepAlive: true, maxSockets: data.sockets, maxFreeSockets: data.sockets });
const passkeys = data.passkeys.map((transferred) => SoftwarePasskey.restore(transferred));
let pages: { browser: BenchHttp; options: string; verify: string; csrf: string }[] = [];

async function openSignInPage() {
  const { browser, page } = await openSignInPageOf(agent, data.loginUrl, data);
  return { browser, ...passkeyBlockOf(page.body) };
}

/** Options, assertion, and on to the code: what a passkey sign-in costs from the button to the application. */
async function signIn(person: number): Promise<void> {
  const page = pages.pop() ?? (await openSignInPage());
  const passkey = passkeys[person % passkeys.length]!;
  const options = await page.browser.send('POST', page.options, { json: { csrf: page.csrf } });
  if (options.status !== 200) throw new Error(`no passkey options: ${options.status}`);
  const response = passkey.assert(JSON.parse(options.body) as { challenge: string; rpId: string });
  const verified = await page.browser.send('POST', page.verify, { json: { csrf: page.csrf, response } });
  if (verified.status !== 200) throw new Error(`passkey refused: ${verified.status} ${verified.body.slice(0, 200)}`);
  await onToCode(page.browser, (JSON.parse(verified.body) as { location: string }).location, data.redirectUri);
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

parentPort!.on('message', (request: PasskeyBrowsersRequest) => {
  const work = request.kind === 'open-pages' ? openPages(request.count) : signIn(request.person);
  work.then(
    () => parentPort!.postMessage({ id: request.id }),
    (error: unknown) => parentPort!.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
