import fc from 'fast-check';

/**
 * Generators of what an attacker sends to an edge, for property tests: text storage chokes on
 * (NUL, C0 controls, DEL, unpaired surrogates, mixed into ordinary characters), text of every
 * code point, and values of the wrong type. `extremes` adds a field's own edge cases.
 */
export function hostileText(extremes: readonly string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({
      unit: fc.oneof(
        fc.constantFrom('\u0000', '\u0007', '\t', '\n', '\u001b', '\u007f', '\ud800', '\udc00'),
        fc.string({ minLength: 1, maxLength: 1 }),
      ),
      maxLength: 12,
    }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom('', ' ', '\u0000', '\ud800', '\udfff', 'a\u0000b', '\u001b[31m', '\r\n', ...extremes),
  );
}

/**
 * Any JSON-ish value at all: half the time hostile text (a string field is where storage breaks),
 * otherwise a value of another type.
 */
export function anyValue(text: fc.Arbitrary<string> = hostileText()): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 5, arbitrary: text },
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.jsonValue({ maxDepth: 3 }),
  );
}

/** Mostly a valid value, sometimes a hostile one: most bodies then hold one or two bad fields, some none. */
export function mostly<T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: hostile });
}

/**
 * Bodies naming whom a privacy request is about (erasures, exports): `{userId?, email?, anonymousId?}`
 * whose fields are mostly valid and otherwise hostile, and now and then any JSON at all.
 */
export function hostileIdentityBodies(): fc.Arbitrary<unknown> {
  const text = hostileText(['user-42', 'a'.repeat(513), 'ok@example.com', 'not-an-email']);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record(
        {
          userId: mostly(fc.constantFrom('user-42', 'u-1', '0193c2a0-0000-8000-8000-000000000001'), fc.oneof(text, anyValue(text))),
          email: mostly(fc.constantFrom('person@example.com', 'Other@Example.org'), fc.oneof(text, anyValue(text))),
          anonymousId: mostly(fc.constantFrom('anon-1', 'f0e1d2'), fc.oneof(text, anyValue(text))),
        },
        { requiredKeys: [] },
      ),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

/** Whether a body a privacy request accepted names someone: one of the three, a non-empty string. */
export function namesSomeone(body: unknown): boolean {
  const named = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  return ['userId', 'email', 'anonymousId'].some((field) => typeof named[field] === 'string' && named[field] !== '');
}
