import { ProblemError, RequestValidationError } from './problem-details';
import { parseRequestJson } from './request-json';

describe('request JSON', () => {
  test('a body nested as deep as its size allows is walked in linear time and named at its depth', () => {
    const depth = 100_000;
    const text = `${'['.repeat(depth)}{"__proto__":1}${']'.repeat(depth)}`;
    let refusal: unknown;
    try {
      parseRequestJson(text);
    } catch (error) {
      refusal = error;
    }
    // JSON.parse itself may give up on such depth; either way the answer is a 400 problem.
    expect(refusal).toBeInstanceOf(ProblemError);
    if (refusal instanceof RequestValidationError) expect(refusal.errors[0]!.pointer).toBe('/0'.repeat(depth));
  });

  test('a body holding thousands of prototype keys is answered with the first twenty', () => {
    const text = JSON.stringify(Array.from({ length: 5000 }, () => ({ a: 1 }))).replaceAll('"a"', '"__proto__"');
    try {
      parseRequestJson(text);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(RequestValidationError);
      expect((error as RequestValidationError).errors).toHaveLength(20);
    }
  });

  test('ordinary JSON comes back as parsed', () => {
    expect(parseRequestJson('{"a":[1,"\\u00e9"],"constructor":{"name":"x"}}')).toEqual({ a: [1, 'é'], constructor: { name: 'x' } });
  });
});
