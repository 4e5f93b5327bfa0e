import { BOUNDS, ProblemError, textProblem } from '#platform';
import { MEMBER_ID } from '../rewards.ports';
import { headerOf, type IncomingRequest } from '../tenants/tenant-access';

/** A path parameter or header storage could not hold: 400, naming it. Nothing is looked up with it. */
export function invalidParameter(name: string, problem: string): ProblemError {
  return new ProblemError({
    status: 400,
    type: 'invalid-parameter',
    title: 'Invalid request parameter',
    detail: `${name} ${problem}`,
    extensions: { parameter: name },
  });
}

/**
 * Whether a member id from a path can name a wallet. Not an identifier at all (control characters,
 * longer than an index key) is a 400; an id no wallet can have (an e-mail: `@` would put personal
 * data in a stream name) is simply nobody, false.
 */
export function isMemberId(userId: string): boolean {
  const problem = textProblem(userId, 'identifier', BOUNDS.identifierLength);
  if (problem) throw invalidParameter('userId', problem);
  return MEMBER_ID.test(userId);
}

/** Visible ASCII, as RFC 9110 field values and logs take it whole. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The Idempotency-Key header: refused when malformed, and when missing if the call needs one. */
export function idempotencyKeyOf(request: IncomingRequest, options: { required: boolean }): string | undefined {
  const key = headerOf(request, 'idempotency-key');
  if (key === undefined && !options.required) return undefined;
  if (key === undefined || key === '')
    throw new ProblemError({
      status: 400,
      type: 'idempotency-key-required',
      title: 'Idempotency-Key required',
      detail: 'send a unique Idempotency-Key header (1-255 visible ASCII characters) per request',
    });
  if (!IDEMPOTENCY_KEY.test(key)) throw invalidParameter('Idempotency-Key', 'must be 1-255 visible ASCII characters');
  return key;
}
