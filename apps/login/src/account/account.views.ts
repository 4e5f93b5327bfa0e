import { escapeHtml, hostedPage } from '#platform';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, type PasswordProblem } from '#contracts';
import type { LoginTenant } from '../directory';
import { languageField, type LocalisedPage, type LoginMessageKey, type Words } from '../messages/messages';
import type { PersonSession } from './sessions';

interface Person {
  readonly tenant: LoginTenant;
  readonly email: string;
  readonly csrf: string;
}

/** The authorization a person came from, to go back to once done (see returnToOf). */
export type ReturnTo = string | undefined;

export const accountPath = (tenant: LoginTenant, page: string) => `/t/${encodeURIComponent(tenant.slug)}/account/${page}`;

const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

/** The hidden fields of every account form: the session's CSRF token, the page's language and the way back, if any. */
function formFields(person: Person, words: Words, returnTo: ReturnTo): string {
  return `${hidden('csrf', person.csrf)}${languageField(words)}${returnTo ? hidden('return_to', returnTo) : ''}`;
}

/** Links between the signed-in pages, and back into the application's authorization when the person came from one. */
export function accountNav(tenant: LoginTenant, words: Words, returnTo?: ReturnTo): string {
  const link = (page: string, key: LoginMessageKey) => `<a href="${escapeHtml(accountPath(tenant, page))}">${words.sayHtml(key)}</a>`;
  const back = returnTo ? `<a href="${escapeHtml(returnTo)}">${words.sayHtml('account.continue')}</a>` : '';
  return `<p class="links">${link('security', 'account.nav.security')}${link('password', 'account.nav.password')}${link(
    'email',
    'account.nav.email',
  )}${link('sessions', 'account.nav.sessions')}${back}</p>`;
}

const PROBLEM_TEXT: Record<PasswordProblem, LoginMessageKey> = {
  unusable: 'account.password.unusable',
  tooShort: 'account.password.tooShort',
  tooLong: 'account.password.tooLong',
  common: 'account.password.common',
  tooFewDistinct: 'account.password.tooFewDistinct',
  containsEmail: 'account.password.containsEmail',
};

export interface PasswordPageState {
  readonly notice?: LoginMessageKey;
  readonly error?: LoginMessageKey;
  readonly problems?: readonly PasswordProblem[];
}

export function passwordView(person: Person, returnTo: ReturnTo, state: PasswordPageState = {}): LocalisedPage {
  const limits = { min: String(PASSWORD_MIN_LENGTH), max: String(PASSWORD_MAX_LENGTH) };
  return (words) => {
    const errors = [
      ...(state.error ? [words.sayHtml(state.error)] : []),
      ...(state.problems ?? []).map((problem) => words.sayHtml(PROBLEM_TEXT[problem], limits)),
    ];
    const alert = errors.length ? `<div class="error" role="alert">${errors.map((error) => `<p>${error}</p>`).join('')}</div>` : '';
    const notice = state.notice ? `<p class="done" role="status">${words.sayHtml(state.notice)}</p>` : '';
    return hostedPage({
      siteName: person.tenant.name,
      brand: person.tenant.branding,
      title: words.say('account.password.title'),
      lang: words.locale,
      body: `${accountNav(person.tenant, words, returnTo)}${notice}${alert}
<form method="post" action="${escapeHtml(accountPath(person.tenant, 'password'))}">${formFields(person, words, returnTo)}
<input type="hidden" name="username" value="${escapeHtml(person.email)}" autocomplete="username">
<label for="current-password">${words.sayHtml('account.password.current')}</label><input id="current-password" name="current_password" type="password" autocomplete="current-password" required>
<label for="new-password">${words.sayHtml('account.password.new')}</label><input id="new-password" name="new_password" type="password" autocomplete="new-password" required minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}" aria-describedby="password-rules">
<p id="password-rules" class="hint">${words.sayHtml('account.password.rules', limits)}</p>
<button type="submit">${words.sayHtml('account.password.submit')}</button>
</form>`,
    });
  };
}

export interface EmailPageState {
  readonly error?: LoginMessageKey;
  /** The address typed, shown again with an error; once the link is sent, the address it went to. */
  readonly typed?: string;
  readonly sent?: boolean;
}

export function emailView(person: Person, returnTo: ReturnTo, state: EmailPageState = {}): LocalisedPage {
  return (words) => {
    const current = `<strong>${escapeHtml(person.email)}</strong>`;
    const alert = state.error ? `<p class="error" role="alert">${words.sayHtml(state.error)}</p>` : '';
    const notice = state.sent
      ? `<p class="done" role="status">${words.sayHtml('account.email.sent', { email: `<strong>${escapeHtml(state.typed ?? '')}</strong>`, current })}</p>`
      : '';
    return hostedPage({
      siteName: person.tenant.name,
      brand: person.tenant.branding,
      title: words.say('account.email.title'),
      lang: words.locale,
      body: `${accountNav(person.tenant, words, returnTo)}${notice}${alert}
<p>${words.sayHtml('account.email.inUse', { email: current })}</p>
<form method="post" action="${escapeHtml(accountPath(person.tenant, 'email'))}">${formFields(person, words, returnTo)}
<label for="new-email">${words.sayHtml('account.email.new')}</label><input id="new-email" name="new_email" type="email" autocomplete="email" required maxlength="254" value="${escapeHtml(state.sent ? '' : (state.typed ?? ''))}" aria-describedby="email-explain">
<p id="email-explain" class="hint">${words.sayHtml('account.email.explain')}</p>
<input type="hidden" name="username" value="${escapeHtml(person.email)}" autocomplete="username">
<label for="current-password">${words.sayHtml('account.email.password')}</label><input id="current-password" name="current_password" type="password" autocomplete="current-password" required>
<button type="submit">${words.sayHtml('account.email.submit')}</button>
</form>`,
    });
  };
}

export interface SessionsPageState {
  readonly notice?: LoginMessageKey;
  readonly count?: number;
}

export function sessionsView(
  person: Person,
  sessions: readonly PersonSession[],
  returnTo: ReturnTo,
  state: SessionsPageState = {},
): LocalisedPage {
  return (words) => {
    const when = (time: number) =>
      escapeHtml(new Intl.DateTimeFormat(words.locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(time));
    const items = sessions.map((session) => {
      const apps = session.clients.length
        ? words.sayHtml('account.sessions.apps', { apps: session.clients.map((name) => escapeHtml(name)).join(', ') })
        : words.sayHtml('account.sessions.noApps');
      const end = session.current
        ? `<p><strong>${words.sayHtml('account.sessions.current')}</strong></p>`
        : `<form method="post" action="${escapeHtml(accountPath(person.tenant, 'sessions/end'))}">${formFields(person, words, returnTo)}${hidden(
            'session',
            session.uid,
          )}<button type="submit" class="secondary">${words.sayHtml('account.sessions.end')}</button></form>`;
      return `<li${session.current ? ' class="current" aria-current="true"' : ''}>
<p>${words.sayHtml('account.sessions.detail', { signedIn: when(session.signedInAt), lastSeen: when(session.lastSeenAt) })}</p>
<p class="hint">${apps}</p>${end}</li>`;
    });
    const others = sessions.some((session) => !session.current)
      ? `<form method="post" action="${escapeHtml(accountPath(person.tenant, 'sessions/end-others'))}">${formFields(person, words, returnTo)}
<button type="submit">${words.sayHtml('account.sessions.endOthers')}</button></form>`
      : '';
    const notice = state.notice
      ? `<p class="done" role="status">${words.sayHtml(state.notice, { count: escapeHtml(String(state.count ?? 0)) })}</p>`
      : '';
    return hostedPage({
      siteName: person.tenant.name,
      brand: person.tenant.branding,
      title: words.say('account.sessions.title'),
      lang: words.locale,
      body: `${accountNav(person.tenant, words, returnTo)}${notice}<p>${words.sayHtml('account.sessions.explain')}</p>
<ul id="sessions">${items.join('')}</ul>${others}`,
    });
  };
}
