import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  options: { javaScript?: boolean } = {},
): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    javaScriptEnabled: options.javaScript ?? false,
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
