import fc from 'fast-check';
import { BOUNDS } from '#platform';
import type { ServiceName } from './four-services';
import { anyValue, hostileText, mostly } from './hostile-values';
import { hostileJson, hostileNumber, type SentMessage } from './hostile-tracking';

/**
 * The vocabulary of hostile-calls.ts: what the hostile tenant holds, what a generated call is, the
 * values it mixes in and how a call is written (paths, headers, forms, JSON with 1e400 in it).
 */

/** What the hostile tenant holds. */
export interface HostileTenant {
  readonly urls: Readonly<Record<ServiceName, string>>;
  readonly id: string;
  readonly slug: string;
  readonly writeKey: string;
  readonly apiKey: string;
  /** A person's access token for Tessera's API (register's /me). */
  readonly apiToken: string;
  /** The same person's opaque access token (login's userinfo). */
  readonly userinfoToken: string;
  readonly personEmail: string;
  /** The tenant's own public OAuth client and its redirect URI. */
  readonly clientId: string;
  readonly redirectUri: string;
  /** Sign-in pages the tenant opened: where each form posts, its CSRF token, the browser's cookies. */
  readonly signInForms: readonly { readonly action: string; readonly csrf: string; readonly cookie: string }[];
  readonly rewardId: string;
  readonly members: readonly string[];
}

export interface HostileCall {
  readonly service: ServiceName;
  /** The route, as the report groups calls: `POST /v1/batch`, `PUT /t/{tenant}/program`. */
  readonly route: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** The tracking messages the call carries (pulse's tracking routes). */
  readonly messages?: readonly SentMessage[];
  /** A write that, answered 2xx, must have stored something under its request id. */
  readonly storesOnSuccess?: boolean;
}

/** A generated call, made concrete for a tenant; `serial` makes its fresh values (request id, ids, e-mails, keys) unique. */
export type HostileCallOf = (tenant: HostileTenant, serial: number) => HostileCall;

/** The request id each call carries: services record it as the correlation id of what the call stores. */
export const hostileRequestId = (serial: number) => `noisy-a-${serial}`;

export const text = hostileText([
  'x'.repeat(BOUNDS.identifierLength + 1),
  'é'.repeat(257),
  'x'.repeat(BOUNDS.textLength + 1),
  '../../admin',
]);
export const anything = anyValue(text);
export const orHostile = <T>(valid: fc.Arbitrary<T>) => mostly(valid, anything);
/** `undefined` stands for the tenant's own credential, filled in when the call is made. */
export const own = <T>(hostile: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: hostile });
export const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 3 });
export const instant = fc.oneof(
  fc.constantFrom('2026-06-01T00:00:00Z', '9999-12-31T23:00:00-05:00', '+275760-09-13T00:00:00Z', '1969-12-31T23:59:59Z', 'tomorrow'),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((date) => date.toISOString()),
);
export const points = orHostile(
  fc.oneof(fc.integer({ min: 1, max: 1000 }), hostileNumber, fc.constantFrom(BOUNDS.points, BOUNDS.points + 1)),
);

/** A path segment as a client can send it: unpaired surrogates cannot be percent-encoded, so they go as U+FFFD. */
export const segment = (value: unknown) => encodeURIComponent(String(value).toWellFormed());
/** A header value Node will send (no line breaks, NUL or characters past Latin-1): the HTTP parser refuses the rest anyway. */
export const headerSafe = (value: unknown) => String(value).replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
export const bearer = (token: string | undefined, fallback: string) => `Bearer ${token === undefined ? fallback : headerSafe(token)}`;
export const query = (params: Record<string, unknown>) =>
  Object.entries(params)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${segment(typeof value === 'string' ? value : hostileJson(value))}`)
    .join('&');
export const form = (fields: Record<string, unknown>) =>
  new URLSearchParams(
    Object.entries(fields).flatMap(([name, value]) =>
      value === undefined ? [] : [[name, typeof value === 'string' ? value : hostileJson(value)] as [string, string]],
    ),
  ).toString();

export function call(
  service: ServiceName,
  route: string,
  tenant: HostileTenant,
  serial: number,
  request: { method: string; path: string; headers?: Record<string, string>; json?: unknown; body?: string; storesOnSuccess?: boolean },
): HostileCall {
  const headers: Record<string, string> = { 'x-request-id': hostileRequestId(serial), ...request.headers };
  let body = request.body;
  if (request.json !== undefined) {
    body = hostileJson(request.json);
    headers['content-type'] ??= 'application/json';
  }
  return {
    service,
    route,
    method: request.method,
    url: `${tenant.urls[service]}${request.path}`,
    headers,
    body,
    storesOnSuccess: request.storesOnSuccess,
  };
}
