import { existsSync } from 'node:fs';

/** Debian's Chromium, which CI installs (apt-get install chromium); tests drive it with playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless, in a container, talking to nothing but the test's own servers. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const chromiumAvailable = existsSync(CHROMIUM);
