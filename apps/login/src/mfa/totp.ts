import { createHash, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

/** RFC 6238 as every authenticator app takes it: SHA-1, 6 digits, 30-second steps. */
const PERIOD_S = 30;
const DIGITS = 6;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/**
 * The time step `code` belongs to, within one step either side of `now` (clock drift), or
 * undefined when it matches none. Pure: the decider calls it on the secret it holds.
 */
export function totpStepOf(secret: string, code: string, now: Date): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: DIGITS, period: PERIOD_S });
  const delta = totp.validate({ token: code, timestamp: now.getTime(), window: 1 });
  return delta === null ? undefined : Math.floor(now.getTime() / 1000 / PERIOD_S) + delta;
}

/** The otpauth:// URI an authenticator app reads from the QR code: issuer and account label shown in the app. */
export function totpUri(secret: string, issuer: string, account: string): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: DIGITS, period: PERIOD_S, issuer, label: account }).toString();
}

/** Ten codes of 10 base32 characters (50 bits each), shown once, grouped for reading. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: 10 }, () => {
    const raw = new Secret({ buffer: randomBytes(7).buffer }).base32.slice(0, 10).toLowerCase();
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
}

/** What a typed recovery code is stored and compared as: case, spaces and dashes do not matter. */
export function recoveryCodeHash(code: string): string {
  return createHash('sha256').update(code.toLowerCase().replace(/[\s-]/g, '')).digest('hex');
}
