import { randomBytes } from 'node:crypto';

/**
 * Tenant keys are random secrets shown once; only their SHA-256 is kept (see libs/contracts' keys).
 */
export function newApiKey(): string {
  return `tsk_${randomBytes(32).toString('base64url')}`;
}

export function newWriteKey(): string {
  return `twk_${randomBytes(24).toString('base64url')}`;
}
