import type { InteractionDetails } from 'oidc-provider';
import { escapeHtml, hostedPage } from '#platform';
import { PASSKEY_SCRIPT_PATH, passkeyBlock } from './passkey-script';
import type { LoginTenant } from '../directory';
import { languageField, type LocalisedPage, type LoginMessageKey, type Words } from '../messages/messages';

/** Who passed the password check on an interaction that now waits for their second factor. */
export interface PendingSecondFactor {
  readonly accountId: string;
  /** The blind index of the e-mail: the sign-in stream LoginSucceeded goes to. */
  readonly accountKey: string;
  readonly clientId: string;
  /** A code of the enrolled app is awaited; or an app is being enrolled (the policy asks for one); or it just was. */
  readonly stage: 'code' | 'enrol' | 'enrolled';
  /** The person has passkeys: the code step offers them too. */
  readonly passkeys?: boolean;
  /** The person has an authenticator app (codes, recovery codes); absent on interactions from before it was recorded. */
  readonly codes?: boolean;
}

/** What the second step offers: a code field unless the person has only passkeys. */
export interface SecondStepOffer {
  readonly codes: boolean;
  readonly passkey: boolean;
}

export const offerOf = (pending: Pick<PendingSecondFactor, 'passkeys' | 'codes'>): SecondStepOffer => ({
  codes: pending.codes !== false || pending.passkeys !== true,
  passkey: pending.passkeys === true,
});

const STAGES = new Set(['code', 'enrol', 'enrolled']);

/** How a sign-in happened, for the ID token (RFC 8176 `amr` values; `acr` as discovery lists them). */
export const ACR_PASSWORD = 'urn:tessera:acr:pwd';
export const ACR_MFA = 'urn:tessera:acr:mfa';
export const PASSWORD_ONLY = { amr: ['pwd'], acr: ACR_PASSWORD } as const;
export const WITH_SECOND_FACTOR = { amr: ['pwd', 'otp', 'mfa'], acr: ACR_MFA } as const;
/**
 * A passkey proves possession of a key an authenticator guards (`hwk`) and, since login asks for
 * user verification, that the person unlocked it (`user`): with the password that is three proofs;
 * alone it is still two factors (possession and the PIN or biometric the authenticator checked),
 * hence `mfa` and the MFA acr either way. (`swk` would fit synced passkeys better; RFC 8176 has no
 * value that tells them apart from the authenticator's flags, and the acr is what clients decide on.)
 */
export const PASSWORD_AND_PASSKEY = { amr: ['pwd', 'hwk', 'user', 'mfa'], acr: ACR_MFA } as const;
export const PASSKEY_ONLY = { amr: ['hwk', 'user', 'mfa'], acr: ACR_MFA } as const;

/** What a page says about a refused code (keys of the message catalogues, messages/). */
export const SECOND_FACTOR_FAILURE: Record<'wrong' | 'locked' | 'not-enrolled', LoginMessageKey> = {
  wrong: 'secondFactor.wrong',
  locked: 'secondFactor.locked',
  'not-enrolled': 'secondFactor.notEnrolled',
};

export function pendingSecondFactorOf(details: InteractionDetails): PendingSecondFactor | undefined {
  const pending = details.result?.secondFactor as Partial<PendingSecondFactor> | undefined;
  if (!pending || typeof pending.accountId !== 'string' || typeof pending.accountKey !== 'string' || typeof pending.clientId !== 'string')
    return undefined;
  const stage = STAGES.has(pending.stage ?? '') ? pending.stage! : 'code';
  return {
    accountId: pending.accountId,
    accountKey: pending.accountKey,
    clientId: pending.clientId,
    stage,
    passkeys: pending.passkeys === true,
    ...(typeof pending.codes === 'boolean' ? { codes: pending.codes } : {}),
  };
}

/** The code step of a sign-in; its form posts the page's language back (ui_locales), as the sign-in form does. */
export const secondFactorAction = (tenant: LoginTenant, uid: string) =>
  `/t/${encodeURIComponent(tenant.slug)}/interaction/${encodeURIComponent(uid)}/second-factor`;

/** After the recovery codes of an enrolment made during sign-in: the sign-in goes on. */
export function continueSignInForm(tenant: LoginTenant, uid: string, csrf: string): (words: Words) => string {
  return (words) => `<form method="post" action="${escapeHtml(secondFactorAction(tenant, uid))}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">${languageField(words)}
<button type="submit">${words.sayHtml('recoveryCodes.continue')}</button></form>`;
}

/** Where the passkey script of a sign-in asks for options and posts its answer. */
/**
 * Where a sign-in page's script asks for passkey options and sends the answer. The sign-in page's
 * own (`first`: a passkey instead of the password) are asked for without the interaction being
 * read; the second step's name the person's passkeys, so they read it.
 */
export const passkeySignInPaths = (tenant: LoginTenant, uid: string, step: 'first' | 'second' = 'second') => {
  const base = `/t/${encodeURIComponent(tenant.slug)}/interaction/${encodeURIComponent(uid)}/passkey`;
  return { options: step === 'first' ? `${base}/options?step=first` : `${base}/options`, verify: base };
};

export function secondFactorPage(
  tenant: LoginTenant,
  uid: string,
  csrf: string,
  error?: LoginMessageKey,
  offer: SecondStepOffer = { codes: true, passkey: false },
): LocalisedPage {
  const action = secondFactorAction(tenant, uid);
  const passkey = (words: Words) =>
    offer.passkey
      ? passkeyBlock({
          mode: 'second-factor',
          ...passkeySignInPaths(tenant, uid),
          csrf,
          label: words.sayHtml(offer.codes ? 'passkey.secondFactor' : 'passkey.only'),
          failed: words.sayHtml('passkey.failed'),
        })
      : '';
  // Someone with passkeys alone has no code to type: the page asks for the passkey only, and says
  // so plainly when the browser runs no script (WebAuthn cannot work without one).
  const codeForm = (words: Words) =>
    offer.codes
      ? `<form method="post" action="${escapeHtml(action)}" autocomplete="off">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">${languageField(words)}
<label for="code">${words.sayHtml('secondFactor.code')}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus maxlength="64" aria-describedby="code-hint">
<p class="hint" id="code-hint">${words.sayHtml('secondFactor.hint')}</p>
<button type="submit">${words.sayHtml('secondFactor.continue')}</button>
</form>`
      : `<p>${words.sayHtml('secondFactor.passkeyOnly')}</p><noscript><p class="error">${words.sayHtml('secondFactor.needsScript')}</p></noscript>`;
  return (words) =>
    hostedPage({
      siteName: tenant.name,
      brand: tenant.branding,
      title: words.say(offer.codes ? 'secondFactor.title' : 'secondFactor.passkeyTitle'),
      lang: words.locale,
      scripts: offer.passkey ? [PASSKEY_SCRIPT_PATH] : [],
      body: `${error ? `<p class="error" role="alert">${words.sayHtml(error)}</p>` : ''}
${codeForm(words)}${passkey(words)}`,
    });
}
