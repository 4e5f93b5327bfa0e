import fc from 'fast-check';

/**
 * Hostile tracking calls, as a tenant holding only its public write key can send them to pulse:
 * control characters everywhere, extreme and non-finite numbers, far and near dates, deep
 * nesting, huge strings, wrong types, valid-but-absurd values, mixed into mostly ordinary calls
 * so that accepted input is exercised too. Pulse's own property test, the noisy-neighbour test
 * and the noisy-neighbour bench send the same calls.
 */

const DAY_MS = 86_400_000;
/** Stands for a fresh messageId, filled in when the request is sent, so that each one names one message. */
const FRESH_ID = '\u0001fresh-id';
/** Stand for numbers JSON.stringify cannot write; the body carries 1e400, which JSON.parse reads as Infinity. */
const INFINITE = '\u0001infinite';
const NEGATIVE_INFINITE = '\u0001-infinite';
export const HOSTILE_PEOPLE = ['hostile-person-1', 'hostile-person-2', 'hostile-person-3'];
const KINDS = ['track', 'identify', 'page', 'screen', 'group', 'alias'];
const SINGLE_PATHS: Record<string, string> = { track: 't', identify: 'i', page: 'p', screen: 's', group: 'g', alias: 'a' };

/** Every UTF-16 code unit (controls, DEL, lone surrogates), everyday text, placeholders, long and huge strings. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ maxLength: 24 }),
  fc.constantFrom('', ' ', 'null', 'undefined', '0', '-1', 'anonymous', '\u0000', 'a\nb', 'tab\there', '\u007f', '\ud800', '\udfff'),
  fc.constantFrom('Opened\r\nevent: forged', '🎉', 'Ünïcödé', '\u2028', 'a'.repeat(99), 'a'.repeat(100), 'a'.repeat(513)),
  fc.integer({ min: 1_000, max: 40_000 }).map((length) => 'x'.repeat(length)),
);
/** Numbers: extreme, non-finite (1e400 in the body), fractional where ids and counts must be whole. */
export const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(INFINITE, NEGATIVE_INFINITE, 2 ** 53, -(2 ** 53), 2 ** 64, 1e308, -0, 0.1, 1.5),
);
const wrongType = fc.constantFrom<unknown>(true, false, [], {}, [1, 'a'], { id: 1 });
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    text,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(text, tie('json'), { maxKeys: 4 }),
  ),
}));
/** `{a: {a: …}}` around a value, up to well past the 32 levels storage takes. */
const deep = fc.tuple(fc.integer({ min: 20, max: 60 }), json).map(([depth, leaf]) => {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
});
const object = fc.oneof(
  { arbitrary: fc.dictionary(text, json, { maxKeys: 6 }), weight: 4 },
  { arbitrary: fc.dictionary(fc.constantFrom('plan', 'email', 'total', 'name'), fc.oneof(text, hostileNumber), { maxKeys: 4 }), weight: 2 },
  { arbitrary: deep, weight: 1 },
  { arbitrary: fc.oneof(text, hostileNumber, wrongType), weight: 1 },
);
/** Far and near dates, both sides of 1970 and of tomorrow, dates that are no dates, wrong types. */
const instant = fc.oneof(
  fc
    .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.integer({ min: -3 * DAY_MS, max: 3 * DAY_MS }).map((offset) => new Date(Date.now() + offset).toISOString()),
  fc.constantFrom('9999-12-31T23:00:00-05:00', '1969-12-31T23:59:59Z', '1970-01-01T00:00:00Z', 'yesterday', '2024-02-30T00:00:00Z'),
  fc.constantFrom('2024-13-01', '+275760-09-13T00:00:00Z', '2024-01-01T00:00:00+25:00', '2024-01-01 10:00'),
  text,
  hostileNumber,
);
/** Mostly what a real client sends, now and then something hostile: most calls mix both, some are clean. */
const sometimes = <T, U>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<U>) =>
  fc.oneof({ arbitrary: valid, weight: 20 }, { arbitrary: hostile, weight: 1 });
const plainText = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('Grüße', 'line one\nline two', 'tab\tthere', '🎉', '\u2028'));
const id = sometimes(
  fc.oneof(fc.constantFrom(...HOSTILE_PEOPLE), fc.stringMatching(/^[a-z0-9-]{1,24}$/), fc.integer({ min: -1000, max: 2 ** 40 })),
  fc.oneof(text, hostileNumber, fc.constantFrom<unknown>(null, true, [], {})),
);
const name = sometimes(fc.constantFrom('Opened', 'Bought', 'Pricing', 'Émoji 🎉'), fc.oneof(text, hostileNumber, wrongType));
const { plainJson } = fc.letrec((tie) => ({
  plainJson: fc.oneof(
    { depthSize: 'small' },
    plainText,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('plainJson'), { maxLength: 3 }),
    fc.dictionary(fc.stringMatching(/^[a-zA-Z_$][a-zA-Z0-9_ .$-]{0,15}$/), tie('plainJson'), { maxKeys: 3 }),
  ),
}));
const jsonObject = sometimes(fc.dictionary(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,15}$/), plainJson, { maxKeys: 5 }), object);
// A real client sends a call shortly after it happened: sentAt is recent, timestamp may be older.
const recently = (maxAgeMs: number) => fc.integer({ min: -maxAgeMs, max: 0 }).map((offset) => new Date(Date.now() + offset).toISOString());
// Dates are where storage breaks (a timestamptz cast in the profiles projection): hostile more often.
const happenedRecently = fc.oneof({ arbitrary: recently(30 * DAY_MS), weight: 3 }, { arbitrary: instant, weight: 1 });
const sentRecently = fc.oneof({ arbitrary: recently(60_000), weight: 3 }, { arbitrary: instant, weight: 1 });
const message = fc.record(
  {
    userId: id,
    anonymousId: id,
    previousId: id,
    groupId: id,
    messageId: sometimes(fc.constant(FRESH_ID), fc.oneof(text, hostileNumber, wrongType)),
    event: name,
    name,
    category: name,
    properties: jsonObject,
    traits: jsonObject,
    context: jsonObject,
    integrations: jsonObject,
    timestamp: happenedRecently,
    sentAt: sentRecently,
  },
  { requiredKeys: ['messageId'] },
);
export const hostileTrackingCall = fc.oneof(
  fc.record({ kind: fc.constantFrom(...KINDS), short: fc.boolean(), message }),
  fc.record({
    kind: fc.constant('batch'),
    short: fc.boolean(),
    sentAt: fc.option(sentRecently, { nil: undefined }),
    batch: fc.array(fc.tuple(sometimes(fc.constantFrom(...KINDS), text), message), { minLength: 1, maxLength: 5 }),
  }),
);
export type HostileTrackingCall = typeof hostileTrackingCall extends fc.Arbitrary<infer T> ? T : never;

/** A message as sent: its fresh id, if it has one, and whether its profile can be looked up by it. */
export interface SentMessage {
  readonly messageId?: string;
  readonly fresh: boolean;
  readonly userId?: string;
}

/**
 * The request a generated call makes: its path, its body as text (1e400 and all), the messages it
 * carries. A short path (analytics.js) carries the write key in the body, the others send it as HTTP Basic.
 */
export function trackingRequest(
  generated: HostileTrackingCall,
  writeKey: string,
  freshId: () => string,
): { path: string; body: string; sent: SentMessage[] } {
  const sent: SentMessage[] = [];
  const withIds = (raw: Record<string, unknown>, kind: unknown): Record<string, unknown> => {
    const fresh = raw.messageId === FRESH_ID;
    const messageId = fresh ? freshId() : raw.messageId;
    // Only a fresh id names one message; a profile shows a call of a known person under that person.
    const person = typeof raw.userId === 'string' && HOSTILE_PEOPLE.includes(raw.userId) && kind !== 'alias' ? raw.userId : undefined;
    sent.push({ messageId: typeof messageId === 'string' ? messageId : undefined, fresh, userId: person });
    return { ...raw, messageId };
  };
  let body: Record<string, unknown>;
  let path: string;
  if (generated.kind === 'batch') {
    const batch = generated as Extract<HostileTrackingCall, { batch: unknown }>;
    body = { batch: batch.batch.map(([type, raw]) => ({ type, ...withIds(raw, type) })) };
    if (batch.sentAt !== undefined) body.sentAt = batch.sentAt;
    path = batch.short ? '/v1/b' : '/v1/batch';
  } else {
    const single = generated as Extract<HostileTrackingCall, { message: unknown }>;
    body = withIds(single.message, single.kind);
    path = single.short ? `/v1/${SINGLE_PATHS[single.kind]}` : `/v1/${single.kind}`;
  }
  if (generated.short) body.writeKey = writeKey;
  return { path, body: hostileJson(body), sent };
}

/** JSON text of a generated value, 1e400 and -1e400 written where the generators put infinities. */
export function hostileJson(value: unknown): string {
  return JSON.stringify(value).replaceAll(JSON.stringify(INFINITE), '1e400').replaceAll(JSON.stringify(NEGATIVE_INFINITE), '-1e400');
}
