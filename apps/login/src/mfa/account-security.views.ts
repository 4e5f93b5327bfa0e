import QRCode from 'qrcode';
import { escapeHtml, hostedPage, siteNameOf, type Branding } from '#platform';
import { accountNav } from '../account/account.views';
import type { LoginTenant } from '../directory';
import { languageField, type LocalisedPage, type LoginMessageKey, type Words } from '../messages/messages';
import type { StoredPasskey } from './factors.decider';
import { PASSKEY_SCRIPT_PATH, passkeyBlock } from './passkey-script';
import { totpUri } from './totp';

interface Person {
  readonly tenant: LoginTenant;
  readonly email: string;
  readonly csrf: string;
}

const path = (person: Person, action = '') => `/t/${encodeURIComponent(person.tenant.slug)}/account/security${action}`;
const csrfField = (person: Person) => `<input type="hidden" name="csrf" value="${escapeHtml(person.csrf)}">`;
const codeField = (label: string) =>
  `<label for="code">${label}</label><input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="64">`;

export function signedOutView(tenant: LoginTenant): LocalisedPage {
  return (words) =>
    hostedPage({
      siteName: tenant.name,
      brand: tenant.branding,
      title: words.say('security.signInFirst.title'),
      lang: words.locale,
      body: `<p>${words.sayHtml('security.signInFirst')}</p>`,
    });
}

export function securityView(
  person: Person,
  options: {
    enrolled: boolean;
    recoveryCodesLeft?: number;
    notice?: LoginMessageKey;
    error?: LoginMessageKey;
    passkeys?: readonly StoredPasskey[];
  },
): LocalisedPage {
  return (words) => {
    const alert = options.error ? `<p class="error" role="alert">${words.sayHtml(options.error)}</p>` : '';
    const body = options.enrolled
      ? `${alert}<p class="done" role="status">${words.sayHtml('security.on')}</p>
<p>${words.sayHtml('security.recoveryCodesLeft', { count: escapeHtml(String(options.recoveryCodesLeft ?? 0)) })}</p>
<form method="post" action="${escapeHtml(path(person, '/totp/remove'))}">${csrfField(person)}
${codeField(words.sayHtml('security.removeCode'))}
<button type="submit" class="secondary">${words.sayHtml('security.remove')}</button>
</form>`
      : `${options.notice ? `<p class="done" role="status">${words.sayHtml(options.notice)}</p>` : ''}${alert}
<p>${words.sayHtml('security.offer')}</p>
<form method="post" action="${escapeHtml(path(person, '/totp'))}">${csrfField(person)}
<button type="submit">${words.sayHtml('security.setUp')}</button>
</form>`;
    return hostedPage({
      siteName: person.tenant.name,
      brand: person.tenant.branding,
      title: words.say('security.title'),
      lang: words.locale,
      scripts: [PASSKEY_SCRIPT_PATH],
      body: `${accountNav(person.tenant, words)}<p>${words.sayHtml('security.signedInAs', { email: escapeHtml(person.email) })}</p>${body}${passkeySection(
        person,
        options.passkeys ?? [],
        words,
      )}`,
    });
  };
}

/** The person's passkeys (name, added, last used), each with its remove form; adding one needs the script. */
function passkeySection(person: Person, passkeys: readonly StoredPasskey[], words: Words): string {
  const when = (time: number) =>
    escapeHtml(new Intl.DateTimeFormat(words.locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(time));
  const items = passkeys.map(
    (passkey) => `<li><strong class="passkey-name">${escapeHtml(passkey.name)}</strong>
<p class="hint">${words.sayHtml('passkey.added', {
      created: when(passkey.createdAt),
      used: passkey.lastUsedAt === null ? words.sayHtml('passkey.neverUsed') : when(passkey.lastUsedAt),
    })}</p>
<form method="post" action="${escapeHtml(path(person, '/passkeys/remove'))}">${csrfField(person)}
<input type="hidden" name="credentialId" value="${escapeHtml(passkey.credentialId)}">
<button type="submit" class="secondary">${words.sayHtml('passkey.remove', { name: escapeHtml(passkey.name) })}</button></form></li>`,
  );
  const nameField = `<label for="passkey-name">${words.sayHtml('passkey.name')}</label>
<input id="passkey-name" name="name" type="text" maxlength="200" required value="${words.sayHtml('passkey.defaultName')}">`;
  return `<h2>${words.sayHtml('passkey.title')}</h2><p>${words.sayHtml('passkey.explain')}</p>
${items.length ? `<ul id="passkeys">${items.join('')}</ul>` : `<p id="no-passkeys">${words.sayHtml('passkey.none')}</p>`}
${passkeyBlock({
  mode: 'enrol',
  options: path(person, '/passkeys/options'),
  verify: path(person, '/passkeys'),
  csrf: person.csrf,
  label: words.sayHtml('passkey.add'),
  failed: words.sayHtml('passkey.failed'),
  fields: nameField,
})}<noscript><p class="hint">${words.sayHtml('passkey.needsScript')}</p></noscript>`;
}

/** Where an enrolment form posts: the account page, or the sign-in that asks for a factor first. */
export interface EnrolmentForm {
  readonly siteName: string;
  readonly brand?: Branding;
  /** The account the authenticator app will name (the person's e-mail). */
  readonly account: string;
  readonly action: string;
  readonly csrf: string;
  /** Why the page is shown during a sign-in (the tenant requires a second factor). */
  readonly required?: boolean;
}

export function enrolmentFormOf(person: Person): EnrolmentForm {
  return {
    siteName: person.tenant.name,
    brand: person.tenant.branding,
    account: person.email,
    action: path(person, '/totp/confirm'),
    csrf: person.csrf,
  };
}

/** The QR code (inline SVG: no image request, nothing the CSP must allow) and the key to type instead. */
export async function enrolmentView(form: EnrolmentForm, secret: string, error?: LoginMessageKey): Promise<LocalisedPage> {
  // The authenticator app names the account by the name the tenant shows.
  const uri = totpUri(secret, siteNameOf(form.siteName, form.brand), form.account);
  const qr = await QRCode.toString(uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M', width: 200 });
  const grouped = secret.replace(/(.{4})/g, '$1 ').trim();
  return (words) =>
    hostedPage({
      siteName: form.siteName,
      brand: form.brand,
      title: words.say('enrolment.title'),
      lang: words.locale,
      body: `${error ? `<p class="error" role="alert">${words.sayHtml(error)}</p>` : ''}${
        form.required ? `<p>${words.sayHtml('enrolment.required', { site: escapeHtml(siteNameOf(form.siteName, form.brand)) })}</p>` : ''
      }
<ol><li>${words.sayHtml('enrolment.scan')}</li></ol>
<div role="img" aria-label="${words.sayHtml('enrolment.qrLabel')}">${qr}</div>
<p>${words.sayHtml('enrolment.typeKey', { key: `<code id="totp-key">${escapeHtml(grouped)}</code>` })}</p>
<form method="post" action="${escapeHtml(form.action)}"><input type="hidden" name="csrf" value="${escapeHtml(form.csrf)}">${languageField(words)}
${codeField(words.sayHtml('enrolment.code'))}
<button type="submit">${words.sayHtml('enrolment.turnOn')}</button>
</form>`,
    });
}

/** Shown once: only their hashes are kept. `next` is the way on: back to the account page, or the sign-in's form. */
export function recoveryCodesView(tenant: LoginTenant, codes: readonly string[], next: (words: Words) => string): LocalisedPage {
  return (words) =>
    hostedPage({
      siteName: tenant.name,
      brand: tenant.branding,
      title: words.say('recoveryCodes.title'),
      lang: words.locale,
      body: `<p class="done" role="status">${words.sayHtml('recoveryCodes.on')}</p>
<p>${words.sayHtml('recoveryCodes.explain')}</p>
<ul id="recovery-codes">${codes.map((code) => `<li><code>${escapeHtml(code)}</code></li>`).join('')}</ul>
${next(words)}`,
    });
}

export function backToSecurity(person: Person): (words: Words) => string {
  return (words) => `<p><a href="${escapeHtml(path(person))}">${words.sayHtml('recoveryCodes.back')}</a></p>`;
}
