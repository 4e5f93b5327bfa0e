/**
 * Stream names of register. Every stream carries its tenant; none carries an e-mail in clear:
 * the e-mail reservation is keyed by the blind index of the normalised address.
 */
export const ACCOUNT_STREAM_PREFIX = 'register.account-';
export const EMAIL_STREAM_PREFIX = 'register.email-';
export const TENANT_STREAM_PREFIX = 'register.tenant-';

export function accountStreamFor(tenantId: string, userId: string): string {
  return `${ACCOUNT_STREAM_PREFIX}${tenantId}.${userId}`;
}

export function emailReservationStreamFor(tenantId: string, emailIndex: string): string {
  return `${EMAIL_STREAM_PREFIX}${tenantId}.${emailIndex}`;
}

export function tenantStreamFor(slug: string): string {
  return `${TENANT_STREAM_PREFIX}${slug}`;
}
