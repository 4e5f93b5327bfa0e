import type { ApiOperation } from '#platform';

const page = (method: 'get' | 'post', path: string, summary: string, responses: Record<number, string>): ApiOperation => ({
  method,
  path,
  summary,
  tags: ['pages'],
  responses,
});

const refused = {
  400: 'the page again, saying which field is wrong',
  403: 'form token missing or wrong (problem+json)',
  404: 'unknown tenant',
  429: 'the page again: too many attempts; Retry-After',
};

/**
 * The hosted journey pages (HTML; forms are form-encoded and carry the page's CSRF token, `return_to`
 * and `ui_locales`). Every page takes `ui_locales` (en, fr), else answers in the Accept-Language.
 */
export const journeyPages: readonly ApiOperation[] = [
  page('get', '/t/{tenant}/sign-up', 'The sign-up page; `return_to` names the sign-in interaction to continue', {
    200: 'the page',
    404: 'unknown tenant',
  }),
  page('post', '/t/{tenant}/sign-up', 'The sign-up form (e-mail, password)', {
    201: 'account created: check your inbox',
    409: 'the page again: address taken',
    ...refused,
  }),
  page('get', '/t/{tenant}/verify-email', 'The page the verification mail links to (#token=…, or the code typed in)', {
    200: 'the page',
    404: 'unknown tenant',
  }),
  page('post', '/t/{tenant}/verify-email', 'Confirms the address with the mailed code', {
    200: 'confirmed',
    ...refused,
    400: 'expired, used or unknown link: offers a new one',
  }),
  page('post', '/t/{tenant}/verify-email/new-link', 'Mails a new verification link when the address awaits one', {
    202: 'the same answer for any address',
    ...refused,
  }),
  page('get', '/t/{tenant}/forgot-password', 'The forgot-password page', { 200: 'the page', 404: 'unknown tenant' }),
  page('post', '/t/{tenant}/forgot-password', 'Mails a reset link when the address has an account', {
    202: 'the same answer for any address',
    ...refused,
  }),
  page('get', '/t/{tenant}/reset-password', 'The page the reset mail links to (#token=…, or the code typed in)', {
    200: 'the page',
    404: 'unknown tenant',
  }),
  page('post', '/t/{tenant}/reset-password', 'Sets a new password with the mailed code; signs out every session', {
    200: 'password changed',
    ...refused,
  }),
  page('get', '/t/{tenant}/confirm-email-change', 'The page the e-mail change mail links to (#token=…, or the code typed in)', {
    200: 'the page',
    404: 'unknown tenant',
  }),
  page('post', '/t/{tenant}/confirm-email-change', 'Moves the account to the new address with the mailed code; the old address is freed', {
    200: 'changed',
    ...refused,
    400: 'expired, used, replaced or unknown link: says so, and where to start again',
    409: 'the page again: another account took the address meanwhile',
  }),
  page('get', '/pages/mailed-token.js', "The journey pages' script: fills the code from the link's fragment", { 200: 'JavaScript' }),
];
