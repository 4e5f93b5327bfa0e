import { z } from 'zod';
import { jsonPointer, type FieldError } from './problem-details';

/**
 * What Tessera's storage can hold, as one vocabulary that every edge checks against: pulse's
 * tracking calls, register's, login's and rewards' request bodies. A value the database cannot
 * take (a NUL in text, an unpaired surrogate in JSON, a year 9999 timestamp, a number past its
 * column) is refused at the door with a 400 naming the field. Let through, it would fail later,
 * in a group commit shared with other tenants or in a projection every tenant waits on.
 */
export const BOUNDS = {
  /** One amount of loyalty points: an award, a cost, an adjustment, the points of one event. */
  points: 1_000_000_000,
  /** What a wallet may hold or have earned in a period; bigint columns, exact in a double. */
  pointsTotal: 1_000_000_000_000,
  /** Units: stock, per-member limits, quantities. */
  quantity: 1_000_000_000,
  /** An amount as a client sends it (an order total): exact to the cent in a double. */
  amount: 1_000_000_000_000,
  /** Ids, event names, keys of JSON objects: they become index keys (a btree entry stays under ~2.7 KB). */
  identifierLength: 512,
  /** A display name, a title, a label. */
  nameLength: 200,
  /** A URL a tenant gives us to call (a webhook destination): what browsers and proxies reliably carry. */
  urlLength: 2048,
  /** Free text a person types (a reason, a note). */
  textLength: 2_000,
  /** Nesting of objects and arrays in JSON the clients send (properties, traits, profile). */
  jsonDepth: 32,
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value can go into a uuid column: anything else is refused there, or must not be cast in SQL (it would fail the statement). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** The earliest instant an event may claim to have happened. */
export const EARLIEST_INSTANT = new Date('1970-01-01T00:00:00Z');
/** How far ahead of our clock a sender's clock may run. */
export const FUTURE_TOLERANCE_MS = 24 * 60 * 60 * 1000;

// C0 controls other than tab, line feed and carriage return: PostgreSQL refuses NUL in text and
// jsonb, and the rest have no business in data people read (they forge log and SSE lines).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
// Ids and names are single-line tokens: no control character at all, DEL included.
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_IN_IDENTIFIER = /[\u0000-\u001F\u007F]/;

export type TextKind = 'identifier' | 'text';

/**
 * Why a string cannot be stored as `kind`, or undefined when it can. An unpaired UTF-16 surrogate
 * (valid in a JS string and in JSON's `\ud800` escape) is refused too: jsonb rejects the escape,
 * and UTF-8 cannot encode it, so it would come back changed.
 */
export function textProblem(value: string, kind: TextKind, maxLength: number): string | undefined {
  if (value.length > maxLength) return `must be at most ${maxLength} characters`;
  if ((kind === 'identifier' ? CONTROL_IN_IDENTIFIER : CONTROL_IN_TEXT).test(value)) {
    return kind === 'identifier'
      ? 'must not contain control characters'
      : 'must not contain control characters other than tab and line breaks';
  }
  if (!value.isWellFormed()) return 'must be well-formed Unicode (no unpaired surrogates)';
  return undefined;
}

/**
 * Why an instant is outside what an event may claim (1970 to a day ahead of `now`), or undefined.
 * Refusing the far future matters beyond sense: the projections cast it to timestamptz, and
 * ordering by event time would put it ahead of every later event for ever.
 */
export function instantProblem(at: Date, now: Date): string | undefined {
  const time = at.getTime();
  if (Number.isNaN(time)) return 'must be an ISO-8601 date-time';
  if (time < EARLIEST_INSTANT.getTime()) return 'must not be before 1970';
  if (time > now.getTime() + FUTURE_TOLERANCE_MS) return 'must not be more than a day in the future';
  return undefined;
}

/** An ISO-8601 date-time as clients write it: a full date, a time, optionally a zone. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Parses an ISO-8601 date-time, or undefined when it is not one (Date.parse takes far more). */
export function parseIsoInstant(value: unknown): Date | undefined {
  if (typeof value !== 'string' || value.length > 40 || !ISO_DATE_TIME.test(value)) return undefined;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

export interface JsonLimits {
  readonly maxDepth?: number;
  /** Longest string value; keys are held to `BOUNDS.identifierLength`. */
  readonly maxStringLength?: number;
}

/**
 * Every place in a client's JSON value that storage cannot hold, as field errors under `path`:
 * keys and strings with control characters or unpaired surrogates, numbers that are not finite
 * (JSON.parse turns 1e400 into Infinity, which JSON.stringify writes back as null), nesting deeper
 * than `maxDepth`. Stops after a few errors: a hostile body can hold thousands.
 */
export function jsonProblems(value: unknown, path: readonly (string | number)[], limits: JsonLimits = {}): FieldError[] {
  const walk: JsonWalk = {
    maxDepth: limits.maxDepth ?? BOUNDS.jsonDepth,
    maxString: limits.maxStringLength ?? Number.POSITIVE_INFINITY,
    at: [...path],
    errors: [],
  };
  visitJson(walk, value, 0);
  return walk.errors;
}

/**
 * One walk's state. The path is one stack, pushed and popped on the way, and copied into a
 * pointer only for an error: pulse walks every tracked message's JSON, on its hottest path.
 */
interface JsonWalk {
  readonly maxDepth: number;
  readonly maxString: number;
  readonly at: (string | number)[];
  readonly errors: FieldError[];
}

function visitJson(walk: JsonWalk, current: unknown, depth: number): void {
  if (walk.errors.length >= MAX_REPORTED) return;
  if (typeof current === 'string') {
    const problem = textProblem(current, 'text', walk.maxString);
    if (problem) walk.errors.push({ pointer: jsonPointer(walk.at), message: problem });
  } else if (typeof current === 'number') {
    if (!Number.isFinite(current)) walk.errors.push({ pointer: jsonPointer(walk.at), message: 'must be a finite number' });
  } else if (typeof current === 'object' && current !== null) {
    if (depth >= walk.maxDepth) {
      walk.errors.push({ pointer: jsonPointer(walk.at), message: `must not nest deeper than ${walk.maxDepth} levels` });
      return;
    }
    const at = walk.at;
    if (Array.isArray(current)) {
      for (let index = 0; index < current.length; index++) {
        at.push(index);
        visitJson(walk, current[index], depth + 1);
        at.pop();
      }
      return;
    }
    for (const key in current) {
      if (!Object.hasOwn(current, key)) continue;
      at.push(key);
      const problem = textProblem(key, 'identifier', BOUNDS.identifierLength);
      if (problem) {
        walk.errors.push({ pointer: jsonPointer(at), message: `key ${problem}` });
        if (walk.errors.length >= MAX_REPORTED) return void at.pop();
      }
      visitJson(walk, (current as Record<string, unknown>)[key], depth + 1);
      at.pop();
    }
  }
}

const MAX_REPORTED = 20;

/**
 * The same rules as zod schemas, for request bodies. `identifier`: a single-line token;
 * `text`: what a person types; both refuse what `textProblem` refuses.
 */
export const bounded = {
  identifier: (maxLength: number = BOUNDS.identifierLength) => z.string().superRefine(refineText('identifier', maxLength)),
  name: (maxLength: number = BOUNDS.nameLength) => z.string().trim().min(1).superRefine(refineText('identifier', maxLength)),
  text: (maxLength: number = BOUNDS.textLength) => z.string().superRefine(refineText('text', maxLength)),
  /** A positive whole number of points, at most one award's worth. */
  points: () => z.number().int().positive().max(BOUNDS.points),
  /** A signed whole number of points (adjustments), zero excluded. */
  signedPoints: () =>
    z
      .number()
      .int()
      .min(-BOUNDS.points)
      .max(BOUNDS.points)
      .refine((points) => points !== 0, { message: 'must not be 0' }),
  quantity: () => z.number().int().min(0).max(BOUNDS.quantity),
  /** A finite amount within what a double holds to the cent. */
  amount: () => z.number().min(-BOUNDS.amount).max(BOUNDS.amount),
  /** An ISO-8601 instant between 1970 and a day from now, as a Date. */
  instant: (now: () => Date = () => new Date()) =>
    z.string().transform((value, context) => {
      const parsed = parseIsoInstant(value);
      const problem = parsed ? instantProblem(parsed, now()) : 'must be an ISO-8601 date-time';
      if (problem || !parsed) {
        context.addIssue({ code: 'custom', message: problem ?? 'must be an ISO-8601 date-time' });
        return z.NEVER;
      }
      return parsed;
    }),
  /** A JSON object whose every key and value storage can hold. */
  jsonObject: (limits: JsonLimits = {}) =>
    z.record(z.string(), z.unknown()).superRefine((value, context) => {
      for (const error of jsonProblems(value, [], limits)) {
        context.addIssue({ code: 'custom', message: error.message, path: pointerSegments(error.pointer) });
      }
    }),
};

function refineText(kind: TextKind, maxLength: number) {
  return (value: string, context: z.RefinementCtx) => {
    const problem = textProblem(value, kind, maxLength);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  };
}

function pointerSegments(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}
