import { escapeHtml, hostedPage } from '#platform';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../sign-up/password';

/** What every form of a journey carries and where its pages live. */
export interface JourneyContext {
  readonly tenantName: string;
  readonly tenantSlug: string;
  readonly csrf: string;
  /** Login's interaction to continue once done, when an OAuth flow started the journey. */
  readonly continueTo?: string;
}

export interface Rendered {
  readonly html: string;
  /** Whether the page loads its same-origin script (the mailed-token filler). */
  readonly scripts: boolean;
}

export const MAILED_TOKEN_SCRIPT = '/pages/mailed-token.js';

/**
 * Fills the form's code from the link's fragment (#token=…), where mails put it so that it never
 * reaches a server log or a Referer, then takes the fragment out of the address bar. Without
 * JavaScript the person pastes the code printed in the mail.
 */
export const MAILED_TOKEN_SCRIPT_SOURCE = `document.addEventListener('DOMContentLoaded', function () {
  var token = new URLSearchParams(location.hash.slice(1)).get('token');
  var field = document.querySelector('input[name="token"]');
  if (!token || !field) return;
  field.value = token;
  history.replaceState(null, '', location.pathname + location.search);
  var next = document.querySelector('[data-after-token]');
  if (next) next.focus();
});
`;

const base = (context: JourneyContext, page: string) => `/t/${encodeURIComponent(context.tenantSlug)}/${page}`;

function withContinue(context: JourneyContext, path: string): string {
  return context.continueTo ? `${path}?return_to=${encodeURIComponent(context.continueTo)}` : path;
}

function hidden(context: JourneyContext): string {
  const next = context.continueTo ? `<input type="hidden" name="return_to" value="${escapeHtml(context.continueTo)}">` : '';
  return `<input type="hidden" name="csrf" value="${escapeHtml(context.csrf)}">${next}`;
}

function alert(message: string | undefined): string {
  return message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : '';
}

function continueLink(context: JourneyContext, text: string): string {
  return context.continueTo ? `<p><a href="${escapeHtml(context.continueTo)}">${escapeHtml(text)}</a></p>` : '';
}

const PASSWORD_RULES = `At least ${PASSWORD_MIN_LENGTH} characters (up to ${PASSWORD_MAX_LENGTH}), not a common password and not your e-mail address. A passphrase of a few words works well.`;

function render(context: JourneyContext, title: string, body: string, scripts = false): Rendered {
  return { html: hostedPage({ siteName: context.tenantName, title, body, scripts: scripts ? [MAILED_TOKEN_SCRIPT] : [] }), scripts };
}

export function signUpView(context: JourneyContext, form: { email?: string; error?: string } = {}): Rendered {
  return render(
    context,
    'Create your account',
    `${alert(form.error)}
<form method="post" action="${escapeHtml(base(context, 'sign-up'))}" autocomplete="on">${hidden(context)}
<label for="email">E-mail</label><input id="email" name="email" type="email" required autofocus autocomplete="email" value="${escapeHtml(form.email ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" required autocomplete="new-password" minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}" aria-describedby="password-rules">
<p class="hint" id="password-rules">${escapeHtml(PASSWORD_RULES)}</p>
<button type="submit">Create account</button>
</form>${continueLink(context, 'I already have an account: sign in')}`,
  );
}

export function signedUpView(context: JourneyContext): Rendered {
  return render(
    context,
    'Check your inbox',
    `<p class="done" role="status">Your account is created.</p>
<p>We sent you a link to confirm your e-mail address. Open it, then come back here.</p>
${continueLink(context, 'Continue to sign in')}`,
  );
}

export function verifyView(context: JourneyContext, form: { token?: string; error?: string } = {}): Rendered {
  return render(
    context,
    'Confirm your e-mail address',
    `${alert(form.error)}
<form method="post" action="${escapeHtml(base(context, 'verify-email'))}">${hidden(context)}
<label for="token">Code from the e-mail</label><input id="token" name="token" type="text" required autocomplete="off" spellcheck="false" value="${escapeHtml(form.token ?? '')}">
<button type="submit" data-after-token>Confirm my e-mail address</button>
</form>`,
    true,
  );
}

export function verifiedView(context: JourneyContext): Rendered {
  return render(
    context,
    'E-mail address confirmed',
    `<p class="done" role="status">Thank you: your e-mail address is confirmed.</p>${continueLink(context, 'Continue to sign in')}`,
  );
}

/** An expired, used or unknown verification link: says which, and offers a new one. */
export function verificationFailedView(context: JourneyContext, reason: string): Rendered {
  return render(
    context,
    'This link cannot be used',
    `${alert(reason)}
<p>Enter your e-mail address and we will send you a new link.</p>
<form method="post" action="${escapeHtml(base(context, 'verify-email/new-link'))}">${hidden(context)}
<label for="email">E-mail</label><input id="email" name="email" type="email" required autocomplete="email">
<button type="submit">Send me a new link</button>
</form>`,
  );
}

export function linkRequestedView(context: JourneyContext, what: 'verification' | 'reset'): Rendered {
  const text =
    what === 'reset'
      ? 'If an account exists for this address, we sent it a link to choose a new password. It may take a minute to arrive.'
      : 'If this address awaits confirmation, we sent it a new link. It may take a minute to arrive.';
  return render(
    context,
    'Check your inbox',
    `<p class="done" role="status">${escapeHtml(text)}</p>${continueLink(context, 'Back to sign in')}`,
  );
}

export function forgotPasswordView(context: JourneyContext, form: { email?: string; error?: string } = {}): Rendered {
  return render(
    context,
    'Forgot your password?',
    `${alert(form.error)}
<p>Enter the e-mail address of your account and we will send you a link to choose a new password.</p>
<form method="post" action="${escapeHtml(base(context, 'forgot-password'))}">${hidden(context)}
<label for="email">E-mail</label><input id="email" name="email" type="email" required autofocus autocomplete="email" value="${escapeHtml(form.email ?? '')}">
<button type="submit">Send me a link</button>
</form>${continueLink(context, 'Back to sign in')}`,
  );
}

export function resetPasswordView(context: JourneyContext, form: { token?: string; error?: string } = {}): Rendered {
  return render(
    context,
    'Choose a new password',
    `${alert(form.error)}
<form method="post" action="${escapeHtml(base(context, 'reset-password'))}">${hidden(context)}
<label for="token">Code from the e-mail</label><input id="token" name="token" type="text" required autocomplete="off" spellcheck="false" value="${escapeHtml(form.token ?? '')}">
<label for="password">New password</label><input id="password" name="password" type="password" required autocomplete="new-password" minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}" aria-describedby="password-rules" data-after-token>
<p class="hint" id="password-rules">${escapeHtml(PASSWORD_RULES)}</p>
<button type="submit">Set my new password</button>
</form>
<p><a href="${escapeHtml(withContinue(context, base(context, 'forgot-password')))}">Send me a new link</a></p>`,
    true,
  );
}

export function passwordChangedView(context: JourneyContext): Rendered {
  return render(
    context,
    'Password changed',
    `<p class="done" role="status">Your new password is set, and you were signed out everywhere else.</p>${continueLink(context, 'Continue to sign in')}`,
  );
}

export { withContinue };
