import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from '../../../test/support/chromium';
import { REDIRECT_URI } from './sign-in-flow';

export { CHROMIUM };
export const available = chromiumAvailable;

if (!available) {
  // Said loudly: CI installs Debian's chromium, so a missing one here means these tests did not run.
  process.stderr.write(`\nBROWSER TESTS DID NOT RUN: ${CHROMIUM} is missing (apt-get install chromium)\n\n`);
}

/**
 * A fresh Chromium profile (without JavaScript unless asked) whose page `work` drives. The relying party is not
 * running: its redirect URI is answered here so the browser can land there.
 */
export async function inBrowser(
  work: (context: BrowserContext, page: Page) => Promise<void>,
  options: { javaScript?: boolean; locale?: string } = {},
): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    javaScriptEnabled: options.javaScript ?? false,
    // The browser's language, sent as its Accept-Language.
    ...(options.locale ? { locale: options.locale } : {}),
  });
  try {
    await context.route(`${REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'relying party' }));
    await work(context, await context.newPage());
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** CI installs Chromium and must run these; elsewhere a missing Chromium is said out loud, not passed. */
export const describeInBrowser: (name: string, body: () => void) => void =
  available || process.env.CI === 'true'
    ? describe
    : (name) => void process.stderr.write(`\nBROWSER TESTS DID NOT RUN (${name}): no Chromium at ${CHROMIUM}\n`);

/**
 * An authorization request (code + PKCE) as a relying party starts it, opened in `page`. `tokens`
 * waits for the redirect back to the client (Chromium will not land on its port 9 at the end of a
 * redirect chain: the redirect is what counts), allowing access on the consent page when asked.
 */
export async function authorizeIn(page: Page, config: oidc.Configuration, params: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  // The browser's request to the relying party: after a redirect, or the passkey script's navigation.
  const landed = new Promise<string>((resolve) =>
    page.on('request', (request) => {
      if (request.url().startsWith(REDIRECT_URI)) resolve(request.url());
    }),
  );
  await page.goto(url.href);
  return {
    async tokens() {
      await page.waitForLoadState();
      if ((await page.locator('button[value=allow]').count()) > 0) await page.click('button[value=allow]');
      const location = await landed;
      // Let the refused landing settle (Chromium's error page), or the test's next navigation is interrupted by it.
      await page
        .waitForURL((url) => url.protocol === 'chrome-error:' || url.href.startsWith(REDIRECT_URI), { timeout: 10_000 })
        .catch(() => undefined);
      return oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: verifier, expectedState: state });
    },
  };
}
