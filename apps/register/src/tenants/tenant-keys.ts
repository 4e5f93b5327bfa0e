import { randomBytes } from 'node:crypto';
import type { TenantKeyKind } from '#contracts';

/**
 * Tenant keys are random secrets shown once; only their SHA-256 is kept (see libs/contracts' keys).
 * The prefix says what a key is, to the person who finds one in a config file or a leak scanner:
 * `twk_` a write key (192 bits; it ships in web pages), `tss_` a server source's key and `tsk_` an
 * API key (256 bits each).
 */
const FORMATS: Record<TenantKeyKind, { prefix: string; bytes: number }> = {
  write: { prefix: 'twk_', bytes: 24 },
  server: { prefix: 'tss_', bytes: 32 },
  api: { prefix: 'tsk_', bytes: 32 },
};

export function newTenantKey(kind: TenantKeyKind): string {
  const { prefix, bytes } = FORMATS[kind];
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}
