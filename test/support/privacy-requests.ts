import fc from 'fast-check';
import { hostileIdentityBodies, namesSomeone } from './hostile-values';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { errors?: { pointer?: unknown }[] };
}

/**
 * The property every privacy request (erasure, export) holds over hostile bodies: accepted (one
 * of `acceptedStatuses`) only when it names someone, otherwise 400 problem+json naming the field
 * by JSON pointer (an unknown one included, "" for a body that is no object), and a refusal
 * records nothing; `recordsOnAcceptance` says an acceptance records exactly one request.
 */
export async function hostileIdentityRequests(options: {
  readonly ask: (body: unknown) => Promise<Answer>;
  readonly requests: () => Promise<number>;
  readonly acceptedStatuses: readonly number[];
  readonly recordsOnAcceptance?: boolean;
  readonly numRuns: number;
}): Promise<number> {
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(hostileIdentityBodies(), async (generated) => {
      const before = await options.requests();
      const response = await options.ask(generated);
      expect([...options.acceptedStatuses, 400]).toContain(response.status);
      if (response.status !== 400) {
        expect(namesSomeone(generated)).toBe(true);
        if (options.recordsOnAcceptance) expect(await options.requests()).toBe(before + 1);
        accepted += 1;
        return;
      }
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(typeof response.body.errors?.[0]?.pointer).toBe('string');
      expect(response.body.errors![0]!.pointer).toMatch(/^(\/[\s\S]*)?$/);
      expect(await options.requests()).toBe(before);
    }),
    { numRuns: options.numRuns },
  );
  return accepted;
}
