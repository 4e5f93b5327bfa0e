import { textProblem } from '#platform';
import type { LoginTenant } from '../directory';
import type { ReturnTo } from './account.views';

export const RETURN_TO_MAX = 4096;

/**
 * The way back into an authorization: this tenant's authorization endpoint on this host, as a path
 * (so never another origin: no scheme, no `//`), without control characters or backslashes. The
 * authorization request itself is checked again by oidc-provider when the browser gets there.
 */
export function returnToOf(tenant: LoginTenant, value: unknown): ReturnTo {
  if (typeof value !== 'string' || value.length > RETURN_TO_MAX) return undefined;
  const prefix = `/t/${tenant.slug}/auth`;
  if (value !== prefix && !value.startsWith(`${prefix}?`)) return undefined;
  // Identifier rules: no control character at all. No whitespace or backslash either, which browsers read loosely in a Location.
  return textProblem(value, 'identifier', RETURN_TO_MAX) || /[\s\\]/.test(value) ? undefined : value;
}
