import QRCode from 'qrcode';
import { escapeHtml, hostedPage } from '#platform';
import type { LoginTenant } from '../directory';
import { totpUri } from './totp';

interface Person {
  readonly tenant: LoginTenant;
  readonly email: string;
  readonly csrf: string;
}

const path = (person: Person, action = '') => `/t/${encodeURIComponent(person.tenant.slug)}/account/security${action}`;
const csrfField = (person: Person) => `<input type="hidden" name="csrf" value="${escapeHtml(person.csrf)}">`;
const alert = (error?: string) => (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '');
const codeField = (label: string) =>
  `<label for="code">${escapeHtml(label)}</label><input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="64">`;

export function signedOutView(tenant: LoginTenant): string {
  return hostedPage({
    siteName: tenant.name,
    title: 'Sign in first',
    body: '<p>This page shows the security of your account once you are signed in. Sign in through the application you use, then come back here.</p>',
  });
}

export function securityView(
  person: Person,
  options: { enrolled: boolean; recoveryCodesLeft?: number; notice?: string; error?: string },
): string {
  const body = options.enrolled
    ? `${alert(options.error)}<p class="done" role="status">Two-step sign-in is on: after your password, we ask for a code from your authenticator app.</p>
<p>${escapeHtml(String(options.recoveryCodesLeft ?? 0))} recovery codes left.</p>
<form method="post" action="${escapeHtml(path(person, '/totp/remove'))}">${csrfField(person)}
${codeField('Current code, to remove the authenticator app')}
<button type="submit" class="secondary">Remove the authenticator app</button>
</form>`
    : `${options.notice ? `<p class="done" role="status">${escapeHtml(options.notice)}</p>` : ''}${alert(options.error)}
<p>Protect your account with a second step: after your password, a code from an authenticator app on your phone.</p>
<form method="post" action="${escapeHtml(path(person, '/totp'))}">${csrfField(person)}
<button type="submit">Set up an authenticator app</button>
</form>`;
  return hostedPage({
    siteName: person.tenant.name,
    title: 'Account security',
    body: `<p>Signed in as ${escapeHtml(person.email)}</p>${body}`,
  });
}

/** Where an enrolment form posts: the account page, or the sign-in that asks for a factor first. */
export interface EnrolmentForm {
  readonly siteName: string;
  /** The account the authenticator app will name (the person's e-mail). */
  readonly account: string;
  readonly action: string;
  readonly csrf: string;
}

/** The QR code (inline SVG: no image request, nothing the CSP must allow) and the key to type instead. */
export async function enrolmentView(form: EnrolmentForm, secret: string, error?: string, intro = ''): Promise<string> {
  const uri = totpUri(secret, form.siteName, form.account);
  const qr = await QRCode.toString(uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M', width: 200 });
  const grouped = secret.replace(/(.{4})/g, '$1 ').trim();
  return hostedPage({
    siteName: form.siteName,
    title: 'Set up your authenticator app',
    body: `${alert(error)}${intro ? `<p>${escapeHtml(intro)}</p>` : ''}
<p>Scan this code with your authenticator app:</p>
<div role="img" aria-label="QR code of your authenticator key">${qr}</div>
<p>Or type this key into the app: <code id="totp-key">${escapeHtml(grouped)}</code></p>
<form method="post" action="${escapeHtml(form.action)}"><input type="hidden" name="csrf" value="${escapeHtml(form.csrf)}">
${codeField('Then enter the code it shows')}
<button type="submit">Turn on two-step sign-in</button>
</form>`,
  });
}

export function enrolmentFormOf(person: Person): EnrolmentForm {
  return { siteName: person.tenant.name, account: person.email, action: path(person, '/totp/confirm'), csrf: person.csrf };
}

/** Shown once: only their hashes are kept. `next` is a link back, or the sign-in's form to go on. */
export function recoveryCodesView(siteName: string, codes: readonly string[], next: string): string {
  return hostedPage({
    siteName,
    title: 'Keep your recovery codes',
    body: `<p class="done" role="status">Two-step sign-in is on.</p>
<p>If you lose your phone, each of these codes signs you in once instead of a code from the app. Keep them somewhere safe: they are shown only now.</p>
<ul id="recovery-codes">${codes.map((code) => `<li><code>${escapeHtml(code)}</code></li>`).join('')}</ul>
${next}`,
  });
}

export function backToSecurity(person: Person): string {
  return `<p><a href="${escapeHtml(path(person))}">Back to account security</a></p>`;
}
