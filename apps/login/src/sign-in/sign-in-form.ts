import { PASSWORD_MAX_LENGTH } from '#contracts';
import { textProblem } from '#platform';
import type { LoginMessageKey } from '../messages/messages';

/** What a sign-in form post holds once it is known to be something a person could have typed. */
export type SignInForm =
  | { readonly ok: true; readonly email: string; readonly password: string }
  | { readonly ok: false; readonly message: LoginMessageKey; readonly status: 400 | 401; readonly email: string };

const NOT_AN_ADDRESS: LoginMessageKey = 'form.notAnAddress';
const NOT_CORRECT: LoginMessageKey = 'failure.invalid_credentials';

/**
 * The e-mail and password fields of a sign-in post, checked before the password check sees them:
 * one string each (a form may repeat a field, a JSON post may send anything), an address storage
 * could hold, a password register could have accepted. A password register would refuse (longer
 * than it allows, with a NUL or an unpaired surrogate) cannot match any stored hash: it gets the
 * usual answer to a wrong password without an argon2id verification, and without counting as a
 * failed attempt against an account it cannot belong to.
 */
export function readSignInForm(body: Record<string, unknown>): SignInForm {
  const { email, password } = body;
  if (typeof email !== 'string' || textProblem(email.trim(), 'identifier', 254) !== undefined || email.trim() === '') {
    return { ok: false, status: 400, message: NOT_AN_ADDRESS, email: '' };
  }
  if (typeof password !== 'string' || password === '') return { ok: false, status: 400, message: 'form.noPassword', email };
  if (textProblem(password, 'text', 2 * PASSWORD_MAX_LENGTH) !== undefined || [...password].length > PASSWORD_MAX_LENGTH) {
    return { ok: false, status: 401, message: NOT_CORRECT, email };
  }
  return { ok: true, email, password };
}
