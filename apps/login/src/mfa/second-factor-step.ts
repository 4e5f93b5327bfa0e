import type { InteractionDetails } from 'oidc-provider';
import { escapeHtml, hostedPage } from '#platform';
import type { LoginTenant } from '../directory';

/** Who passed the password check on an interaction that now waits for their second factor. */
export interface PendingSecondFactor {
  readonly accountId: string;
  /** The blind index of the e-mail: the sign-in stream LoginSucceeded goes to. */
  readonly accountKey: string;
  readonly clientId: string;
  /** A code of the enrolled app is awaited; or an app is being enrolled (the policy asks for one); or it just was. */
  readonly stage: 'code' | 'enrol' | 'enrolled';
}

const STAGES = new Set(['code', 'enrol', 'enrolled']);

/** How a sign-in happened, for the ID token (RFC 8176 `amr` values; `acr` as discovery lists them). */
export const ACR_PASSWORD = 'urn:tessera:acr:pwd';
export const ACR_MFA = 'urn:tessera:acr:mfa';
export const PASSWORD_ONLY = { amr: ['pwd'], acr: ACR_PASSWORD } as const;
export const WITH_SECOND_FACTOR = { amr: ['pwd', 'otp', 'mfa'], acr: ACR_MFA } as const;

export const SECOND_FACTOR_FAILURE: Record<'wrong' | 'locked' | 'not-enrolled', string> = {
  wrong: 'This code is not right, or it was used already. Try the next code of your app.',
  locked: 'Too many wrong codes. Try again later, or use a recovery code once the wait is over.',
  'not-enrolled': 'This account has no second factor any more. Start the sign-in again.',
};

export function pendingSecondFactorOf(details: InteractionDetails): PendingSecondFactor | undefined {
  const pending = details.result?.secondFactor as Partial<PendingSecondFactor> | undefined;
  if (!pending || typeof pending.accountId !== 'string' || typeof pending.accountKey !== 'string' || typeof pending.clientId !== 'string')
    return undefined;
  const stage = STAGES.has(pending.stage ?? '') ? pending.stage! : 'code';
  return { accountId: pending.accountId, accountKey: pending.accountKey, clientId: pending.clientId, stage };
}

export const secondFactorAction = (tenant: LoginTenant, uid: string) =>
  `/t/${encodeURIComponent(tenant.slug)}/interaction/${encodeURIComponent(uid)}/second-factor`;

/** After the recovery codes of an enrolment made during sign-in: the sign-in goes on. */
export function continueSignInForm(tenant: LoginTenant, uid: string, csrf: string): string {
  return `<form method="post" action="${escapeHtml(secondFactorAction(tenant, uid))}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<button type="submit">I have kept them: continue</button></form>`;
}

export function secondFactorPage(tenant: LoginTenant, uid: string, csrf: string, error?: string): string {
  const action = secondFactorAction(tenant, uid);
  return hostedPage({
    siteName: tenant.name,
    title: 'Enter your code',
    body: `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}" autocomplete="off">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus maxlength="64" aria-describedby="code-hint">
<p class="hint" id="code-hint">Lost your phone? Enter one of your recovery codes instead.</p>
<button type="submit">Continue</button>
</form>`,
  });
}
