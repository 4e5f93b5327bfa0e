import request from 'supertest';
import { STRONG_PASSWORD, startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { en } from '../src/messages/en';
import { fr } from '../src/messages/fr';

/** A browser with a language: keeps register's cookie, reads each page's form token, sends Accept-Language if it has one. */
function browserOf(register: RegisterHarness, acceptLanguage?: string) {
  const agent = request.agent(register.app.getHttpServer());
  const languages = acceptLanguage ? { 'accept-language': acceptLanguage } : {};
  let fields: Record<string, string> = {};
  const remember = (html: string) => {
    const hidden = [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)];
    if (hidden.length > 0) fields = Object.fromEntries(hidden.map((match) => [match[1]!, match[2]!]));
  };
  return {
    /** The hidden fields of the last form seen: what a browser posts back without being told. */
    fields: () => fields,
    async open(path: string) {
      const response = await agent.get(path).set(languages);
      remember(response.text);
      return response;
    },
    async submit(path: string, typed: Record<string, string>) {
      const response = await agent
        .post(path)
        .set(languages)
        .type('form')
        .send({ ...fields, ...typed });
      remember(response.text);
      return response;
    },
  };
}

/** The text the page shows for a catalogue message, as escapeHtml writes it. */
const shown = (text: string) => text.replaceAll('&', '&amp;').replaceAll("'", '&#39;');

describe('hosted pages and mails speak the person’s language', () => {
  let register: RegisterHarness;
  let slug: string;
  beforeAll(async () => {
    register = await startRegister();
    slug = (await register.createTenant()).slug;
  });
  afterAll(async () => {
    await register?.close();
  });

  /** The newest mail to `to`, once the mails started by earlier answers have gone out. */
  const newestMailTo = async (to: string) => {
    await register.settled();
    return register.mailbox.list(to)[0];
  };

  test('ui_locales=fr: the sign-up page, its refusals and its answer in French, and the verification mail too', async () => {
    const browser = browserOf(register);
    const page = await browser.open(`/t/${slug}/sign-up?ui_locales=fr`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<html lang="fr">');
    expect(page.text).toContain('<h1>Créez votre compte</h1>');
    expect(page.text).toContain('<label for="password">Mot de passe</label>');
    expect(page.text).toContain('>Créer mon compte</button>');
    expect(page.text).not.toContain(en['signUp.submit']);
    // Kept through the form: the answer to the post is French although the post's URL names no language.
    expect(browser.fields().ui_locales).toBe('fr');

    const weak = await browser.submit(`/t/${slug}/sign-up`, { email: 'camille@example.com', password: 'court' });
    expect(weak.status).toBe(400);
    expect(weak.text).toContain('role="alert">Mot de passe\u00a0: doit compter au moins 10 caractères.');

    const created = await browser.submit(`/t/${slug}/sign-up`, { email: 'camille@example.com', password: STRONG_PASSWORD });
    expect(created.status).toBe(201);
    expect(created.text).toContain('<html lang="fr">');
    expect(created.text).toContain(shown(fr['signedUp.title']));

    const mail = await newestMailTo('camille@example.com');
    expect(mail?.subject).toBe(`Tenant ${slug}\u00a0: confirmez votre adresse e-mail`);
    expect(mail?.text).toContain(`Bienvenue sur Tenant ${slug}.`);
    expect(mail?.text).toMatch(new RegExp(`Confirmez votre adresse e-mail\u00a0: http\\S+/t/${slug}/verify-email\\?ui_locales=fr#token=`));
    const code = /Ou saisissez ce code\u00a0: (\S+)/.exec(mail!.text)?.[1];

    // The mailed link opens the page in the mail's language, and confirms in it.
    const verifyPage = await browser.open(`/t/${slug}/verify-email?ui_locales=fr`);
    expect(verifyPage.text).toContain('<h1>Confirmez votre adresse e-mail</h1>');
    const verified = await browser.submit(`/t/${slug}/verify-email`, { token: code! });
    expect(verified.status).toBe(200);
    expect(verified.text).toContain(shown(fr['verified.done']));
  });

  test('Accept-Language: fr-FR,fr;q=0.9 gives French pages; ui_locales, when it names a language, wins over it', async () => {
    const french = browserOf(register, 'fr-FR,fr;q=0.9');
    const forgot = await french.open(`/t/${slug}/forgot-password`);
    expect(forgot.text).toContain('<html lang="fr">');
    expect(forgot.text).toContain('<h1>Mot de passe oublié\u00a0?</h1>');
    const asked = await french.submit(`/t/${slug}/forgot-password`, { email: 'nobody@example.com' });
    expect(asked.status).toBe(202);
    expect(asked.text).toContain(shown(fr['linkRequested.reset']));

    const english = await browserOf(register, 'fr-FR,fr;q=0.9').open(`/t/${slug}/forgot-password?ui_locales=en`);
    expect(english.text).toContain('<html lang="en">');
    expect(english.text).toContain('<h1>Forgot your password?</h1>');

    // Nothing supported asked for: the default, English.
    const german = await browserOf(register, 'de-CH, de;q=0.8').open(`/t/${slug}/reset-password?ui_locales=es`);
    expect(german.text).toContain('<html lang="en">');
    expect(german.text).toContain('<h1>Choose a new password</h1>');
  });

  test('a French page’s reset link follows the page, unless the person’s profile names their language', async () => {
    await register.signUp(slug, 'sans.langue@example.com');
    await register.signUp(slug, 'english.profile@example.com', { profile: { locale: 'en-GB' } });
    const french = browserOf(register, 'fr-FR,fr;q=0.9');
    await french.open(`/t/${slug}/forgot-password`);
    await french.submit(`/t/${slug}/forgot-password`, { email: 'sans.langue@example.com' });
    await french.submit(`/t/${slug}/forgot-password`, { email: 'english.profile@example.com' });

    const followsThePage = await newestMailTo('sans.langue@example.com');
    expect(followsThePage?.subject).toBe(`Tenant ${slug}\u00a0: réinitialisez votre mot de passe`);
    expect(followsThePage?.text).toContain('Si ce n’est pas vous, ignorez ce message');
    expect(followsThePage?.text).toMatch(/\/reset-password\?ui_locales=fr#token=/);

    const followsTheProfile = await newestMailTo('english.profile@example.com');
    expect(followsTheProfile?.subject).toBe(`Tenant ${slug}: reset your password`);
    expect(followsTheProfile?.text).toMatch(/\/reset-password\?ui_locales=en#token=/);
  });

  test('the API: the mail follows the profile’s locale (fr-CA is French), else the call’s Accept-Language', async () => {
    await register
      .http()
      .post(`/t/${slug}/users`)
      .set('accept-language', 'fr')
      .send({ email: 'api.fr@example.com', password: STRONG_PASSWORD });
    await register
      .http()
      .post(`/t/${slug}/users`)
      .set('accept-language', 'en-US')
      .send({ email: 'quebec@example.com', password: STRONG_PASSWORD, profile: { locale: 'fr-CA' } });
    await register.http().post(`/t/${slug}/users`).send({ email: 'plain@example.com', password: STRONG_PASSWORD });

    expect((await newestMailTo('api.fr@example.com'))?.subject).toMatch(/confirmez votre adresse e-mail$/);
    expect((await newestMailTo('quebec@example.com'))?.subject).toMatch(/confirmez votre adresse e-mail$/);
    expect((await newestMailTo('plain@example.com'))?.subject).toBe(`Tenant ${slug}: confirm your e-mail address`);
  });
});

describe('DEFAULT_LOCALE: the language when nobody names one', () => {
  let register: RegisterHarness;
  let slug: string;
  beforeAll(async () => {
    register = await startRegister({ DEFAULT_LOCALE: 'fr' });
    slug = (await register.createTenant()).slug;
  });
  afterAll(async () => {
    await register?.close();
  });

  test('pages and mails in French unless the browser or the call asks for English', async () => {
    const page = await browserOf(register).open(`/t/${slug}/sign-up`);
    expect(page.text).toContain('<html lang="fr">');
    const english = await browserOf(register, 'en-GB').open(`/t/${slug}/sign-up`);
    expect(english.text).toContain('<html lang="en">');

    await register.signUp(slug, 'defaut@example.com');
    await register
      .http()
      .post(`/t/${slug}/users`)
      .set('accept-language', 'en')
      .send({ email: 'asked@example.com', password: STRONG_PASSWORD });
    await register.settled();
    expect(register.mailbox.list('defaut@example.com')[0]?.subject).toMatch(/confirmez votre adresse e-mail$/);
    expect(register.mailbox.list('asked@example.com')[0]?.subject).toBe(`Tenant ${slug}: confirm your e-mail address`);
  });
});
