import { ProblemError } from '#platform';
import type { AccountRejection } from './account.state';

/** Mailed-token failures as problems. Unknown, used and wrong tokens look alike on purpose. */
export function tokenProblem(rejection: AccountRejection, purpose: 'verification' | 'reset' | 'e-mail change'): ProblemError {
  if (rejection.kind === 'TokenExpired') {
    return new ProblemError({
      status: 400,
      type: 'token-expired',
      title: 'Token expired',
      detail: `the ${purpose} token has expired: ask for a new one`,
    });
  }
  return new ProblemError({
    status: 400,
    type: 'invalid-token',
    title: 'Invalid token',
    detail: `the ${purpose} token is not valid or was already used`,
  });
}
