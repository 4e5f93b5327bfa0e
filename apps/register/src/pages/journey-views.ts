import { escapeHtml, hostedPage, type Branding, type Locale } from '#platform';
import type { Say } from '../messages/messages';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../sign-up/password';

/** What every form of a journey carries and where its pages live. */
export interface JourneyContext {
  readonly tenantName: string;
  /** The tenant's look (logo, colours, links); the page's headers allow exactly what it shows. */
  readonly brand: Branding;
  readonly tenantSlug: string;
  readonly csrf: string;
  /** Login's interaction to continue once done, when an OAuth flow started the journey. */
  readonly continueTo?: string;
  /** The page's language, carried through its forms and links so that the next page keeps it. */
  readonly locale: Locale;
  readonly say: Say;
}

export interface Rendered {
  readonly html: string;
  /** Whether the page loads its same-origin script (the mailed-token filler). */
  readonly scripts: boolean;
  readonly brand: Branding;
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

/** A link to another page of the journey: the same language, and the same place to continue to. */
function withContinue(context: JourneyContext, path: string): string {
  const query = new URLSearchParams({ ui_locales: context.locale });
  if (context.continueTo) query.set('return_to', context.continueTo);
  return `${path}?${query.toString()}`;
}

function hidden(context: JourneyContext): string {
  const next = context.continueTo ? `<input type="hidden" name="return_to" value="${escapeHtml(context.continueTo)}">` : '';
  return `<input type="hidden" name="csrf" value="${escapeHtml(context.csrf)}"><input type="hidden" name="ui_locales" value="${escapeHtml(context.locale)}">${next}`;
}

function alert(message: string | undefined): string {
  return message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : '';
}

function continueLink(context: JourneyContext, text: string): string {
  return context.continueTo ? `<p><a href="${escapeHtml(context.continueTo)}">${escapeHtml(text)}</a></p>` : '';
}

function passwordRules(context: JourneyContext): string {
  return context.say('password.rules', { min: PASSWORD_MIN_LENGTH, max: PASSWORD_MAX_LENGTH });
}

function render(context: JourneyContext, title: string, body: string, scripts = false): Rendered {
  return {
    html: hostedPage({
      siteName: context.tenantName,
      brand: context.brand,
      title,
      body,
      lang: context.locale,
      scripts: scripts ? [MAILED_TOKEN_SCRIPT] : [],
    }),
    scripts,
    brand: context.brand,
  };
}

export function signUpView(context: JourneyContext, form: { email?: string; error?: string } = {}): Rendered {
  const { say } = context;
  return render(
    context,
    say('signUp.title'),
    `${alert(form.error)}
<form method="post" action="${escapeHtml(base(context, 'sign-up'))}" autocomplete="on">${hidden(context)}
<label for="email">${escapeHtml(say('field.email'))}</label><input id="email" name="email" type="email" required autofocus autocomplete="email" value="${escapeHtml(form.email ?? '')}">
<label for="password">${escapeHtml(say('field.password'))}</label><input id="password" name="password" type="password" required autocomplete="new-password" minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}" aria-describedby="password-rules">
<p class="hint" id="password-rules">${escapeHtml(passwordRules(context))}</p>
<button type="submit">${escapeHtml(say('signUp.submit'))}</button>
</form>${continueLink(context, say('signUp.signInInstead'))}`,
  );
}

export function signedUpView(context: JourneyContext): Rendered {
  const { say } = context;
  return render(
    context,
    say('signedUp.title'),
    `<p class="done" role="status">${escapeHtml(say('signedUp.done'))}</p>
<p>${escapeHtml(say('signedUp.next'))}</p>
${continueLink(context, say('link.continueToSignIn'))}`,
  );
}

export function verifyView(context: JourneyContext, form: { token?: string; error?: string } = {}): Rendered {
  const { say } = context;
  return render(
    context,
    say('verify.title'),
    `${alert(form.error)}
<form method="post" action="${escapeHtml(base(context, 'verify-email'))}">${hidden(context)}
<label for="token">${escapeHtml(say('field.token'))}</label><input id="token" name="token" type="text" required autocomplete="off" spellcheck="false" value="${escapeHtml(form.token ?? '')}">
<button type="submit" data-after-token>${escapeHtml(say('verify.submit'))}</button>
</form>`,
    true,
  );
}

export function verifiedView(context: JourneyContext): Rendered {
  const { say } = context;
  return render(
    context,
    say('verified.title'),
    `<p class="done" role="status">${escapeHtml(say('verified.done'))}</p>${continueLink(context, say('link.continueToSignIn'))}`,
  );
}

/** An expired, used or unknown verification link: says which, and offers a new one. */
export function verificationFailedView(context: JourneyContext, reason: string): Rendered {
  const { say } = context;
  return render(
    context,
    say('linkFailed.title'),
    `${alert(reason)}
<p>${escapeHtml(say('linkFailed.offer'))}</p>
<form method="post" action="${escapeHtml(base(context, 'verify-email/new-link'))}">${hidden(context)}
<label for="email">${escapeHtml(say('field.email'))}</label><input id="email" name="email" type="email" required autocomplete="email">
<button type="submit">${escapeHtml(say('link.newLink'))}</button>
</form>`,
  );
}

export function linkRequestedView(context: JourneyContext, what: 'verification' | 'reset'): Rendered {
  const { say } = context;
  return render(
    context,
    say('linkRequested.title'),
    `<p class="done" role="status">${escapeHtml(say(what === 'reset' ? 'linkRequested.reset' : 'linkRequested.verification'))}</p>${continueLink(context, say('link.backToSignIn'))}`,
  );
}

export function forgotPasswordView(context: JourneyContext, form: { email?: string; error?: string } = {}): Rendered {
  const { say } = context;
  return render(
    context,
    say('forgot.title'),
    `${alert(form.error)}
<p>${escapeHtml(say('forgot.intro'))}</p>
<form method="post" action="${escapeHtml(base(context, 'forgot-password'))}">${hidden(context)}
<label for="email">${escapeHtml(say('field.email'))}</label><input id="email" name="email" type="email" required autofocus autocomplete="email" value="${escapeHtml(form.email ?? '')}">
<button type="submit">${escapeHtml(say('forgot.submit'))}</button>
</form>${continueLink(context, say('link.backToSignIn'))}`,
  );
}

export function resetPasswordView(context: JourneyContext, form: { token?: string; error?: string } = {}): Rendered {
  const { say } = context;
  return render(
    context,
    say('reset.title'),
    `${alert(form.error)}
<form method="post" action="${escapeHtml(base(context, 'reset-password'))}">${hidden(context)}
<label for="token">${escapeHtml(say('field.token'))}</label><input id="token" name="token" type="text" required autocomplete="off" spellcheck="false" value="${escapeHtml(form.token ?? '')}">
<label for="password">${escapeHtml(say('field.newPassword'))}</label><input id="password" name="password" type="password" required autocomplete="new-password" minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}" aria-describedby="password-rules" data-after-token>
<p class="hint" id="password-rules">${escapeHtml(passwordRules(context))}</p>
<button type="submit">${escapeHtml(say('reset.submit'))}</button>
</form>
<p><a href="${escapeHtml(withContinue(context, base(context, 'forgot-password')))}">${escapeHtml(say('link.newLink'))}</a></p>`,
    true,
  );
}

export function passwordChangedView(context: JourneyContext): Rendered {
  const { say } = context;
  return render(
    context,
    say('passwordChanged.title'),
    `<p class="done" role="status">${escapeHtml(say('passwordChanged.done'))}</p>${continueLink(context, say('link.continueToSignIn'))}`,
  );
}

export function confirmEmailChangeView(context: JourneyContext, form: { token?: string; error?: string } = {}): Rendered {
  const { say } = context;
  return render(
    context,
    say('confirmEmail.title'),
    `${alert(form.error)}
<form method="post" action="${escapeHtml(base(context, 'confirm-email-change'))}">${hidden(context)}
<label for="token">${escapeHtml(say('field.token'))}</label><input id="token" name="token" type="text" required autocomplete="off" spellcheck="false" value="${escapeHtml(form.token ?? '')}">
<button type="submit" data-after-token>${escapeHtml(say('confirmEmail.submit'))}</button>
</form>`,
    true,
  );
}

export function emailChangedView(context: JourneyContext): Rendered {
  const { say } = context;
  return render(
    context,
    say('emailChanged.title'),
    `<p class="done" role="status">${escapeHtml(say('emailChanged.done'))}</p>${continueLink(context, say('link.continueToSignIn'))}`,
  );
}

/** An expired, used, replaced or unknown change link, or an address taken meanwhile: says which, and where to start again. */
export function emailChangeFailedView(context: JourneyContext, reason: string, accountPage?: string): Rendered {
  const { say } = context;
  const again = accountPage
    ? `<p><a href="${escapeHtml(accountPage)}">${escapeHtml(say('emailChangeFailed.offer'))}</a></p>`
    : `<p>${escapeHtml(say('emailChangeFailed.offer'))}</p>`;
  return render(context, say('linkFailed.title'), `${alert(reason)}${again}`);
}

export { withContinue };
