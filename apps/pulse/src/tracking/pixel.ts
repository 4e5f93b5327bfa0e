import { ProblemError, RequestValidationError, parseRequestJson } from '#platform';
import { MAX_MESSAGE_BYTES } from './segment-message';

/** A transparent 1×1 GIF: what an `<img>` in a mail or a page gets back from a pixel call. */
export const TRANSPARENT_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** Segment's Pixel API routes (GET /v1/pixel/{type}). */
export const PIXEL_KINDS = ['identify', 'group', 'alias', 'page', 'screen', 'track'] as const;

/** Dotted query names (`properties.subject`) nest at most this deep; a message nests no deeper anyway. */
const MAX_PIXEL_KEY_SEGMENTS = 8;
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

const malformedData = (detail: string) => new ProblemError({ status: 400, type: 'malformed-json', title: 'Malformed JSON', detail });

/**
 * The message a pixel call carries. Segment's form: `data` holds the message as base64 JSON
 * (standard or URL-safe alphabet, padded or not, as mail tools produce both). Its unencoded form:
 * the fields as query parameters, nested by dots (`properties.subject=…`), every value a string.
 * What comes out then goes through exactly the checks a POSTed message does.
 */
export function pixelMessage(query: Record<string, unknown>): Record<string, unknown> {
  const data = query.data;
  if (data !== undefined) {
    if (typeof data !== 'string') throw malformedData('give the data parameter once');
    // A "+" left unescaped in a URL reads back as a space.
    const base64 = data.replaceAll(' ', '+');
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(base64)) throw malformedData('the data parameter is not base64');
    const bytes = Buffer.from(base64, 'base64');
    if (bytes.length > MAX_MESSAGE_BYTES) {
      throw new ProblemError({
        status: 413,
        type: 'body-too-large',
        title: 'Request body too large',
        detail: `a message may be at most ${MAX_MESSAGE_BYTES} bytes`,
      });
    }
    const message = parseRequestJson(bytes.toString('utf8'));
    if (typeof message !== 'object' || message === null || Array.isArray(message))
      throw malformedData('the data parameter must hold a JSON object');
    // RudderStack's pixel sends the key as a parameter of its own.
    const writeKey = query.writeKey;
    return 'writeKey' in message || writeKey === undefined ? (message as Record<string, unknown>) : { ...message, writeKey };
  }
  return nestedFields(query);
}

function nestedFields(query: Record<string, unknown>): Record<string, unknown> {
  const message: Record<string, unknown> = {};
  const errors: { pointer: string; message: string }[] = [];
  for (const [name, value] of Object.entries(query)) {
    const segments = name.split('.');
    const pointer = `/${segments.map((segment) => segment.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
    if (typeof value !== 'string') errors.push({ pointer, message: 'must be given once' });
    else if (segments.length > MAX_PIXEL_KEY_SEGMENTS)
      errors.push({ pointer, message: `must nest at most ${MAX_PIXEL_KEY_SEGMENTS} deep` });
    else if (segments.some((segment) => segment === '' || FORBIDDEN_SEGMENTS.has(segment)))
      errors.push({ pointer, message: 'must not name an empty, "__proto__", "constructor" or "prototype" field' });
    else if (!place(message, segments, value)) errors.push({ pointer, message: 'is given both as a value and as an object' });
  }
  if (errors.length > 0) throw new RequestValidationError(errors);
  return message;
}

/** Sets the value at the path; false when the path runs through a value already set (`a=1&a.b=2`). */
function place(into: Record<string, unknown>, segments: readonly string[], value: string): boolean {
  let at = into;
  for (const segment of segments.slice(0, -1)) {
    const next = Object.hasOwn(at, segment) ? at[segment] : (at[segment] = {});
    if (typeof next !== 'object' || next === null) return false;
    at = next as Record<string, unknown>;
  }
  const last = segments.at(-1)!;
  if (Object.hasOwn(at, last)) return false;
  at[last] = value;
  return true;
}

/**
 * Whether the caller reads answers as data (curl with `Accept: application/json`, a test) rather
 * than as an image. An `<img>` sends `image/*` or nothing but `*\/*`: it gets the GIF whatever happens,
 * since a mail client shows a broken image for anything else (Segment's pixel answers the same way).
 */
export function wantsProblemDocument(accept: string | undefined): boolean {
  return accept !== undefined && /\bapplication\/(?:problem\+)?json\b/i.test(accept);
}
