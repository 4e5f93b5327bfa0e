import { createHash, timingSafeEqual } from 'node:crypto';
import { ProblemError } from '#platform';

export const ADMIN_TOKEN = Symbol('AdminToken');

/** Checks the admin bearer token; digests keep the comparison constant-time whatever the length. */
export function requireAdmin(headers: Readonly<Record<string, string | string[] | undefined>>, adminToken: string): void {
  const header = headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const presented = value ? /^Bearer\s+(\S+)\s*$/i.exec(value)?.[1] : undefined;
  if (!presented) {
    throw new ProblemError({
      status: 401,
      type: 'unauthorized',
      title: 'Authentication required',
      detail: 'send the admin token as Authorization: Bearer',
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  }
  const digest = createHash('sha256').update(presented).digest();
  if (!timingSafeEqual(digest, createHash('sha256').update(adminToken).digest())) {
    throw new ProblemError({ status: 403, type: 'forbidden', title: 'Not allowed', detail: 'the admin token is not valid' });
  }
}
