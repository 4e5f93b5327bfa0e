import { lookupLocale, siteNameOf, type Locale } from '#platform';
import { sayIn, type RegisterMessageKey as MessageKey, type Say } from '../messages/messages';
import type { RegisterSettings, TenantRef } from '../register.ports';
import { mailHtml, mailText, type MailContent } from './mail-layout';
import type { OutgoingMail } from './mailer';

/**
 * The language of a mail, decided when the request that causes it is answered (mails go out in
 * the background, after it): the person's profile `locale` when it names a supported language,
 * else the language of the page or call that caused the mail, which itself fell back to the
 * tenant's default language, then the installation's (DEFAULT_LOCALE), when it named none.
 */
export function mailLocale(profileLocale: string | null | undefined, requestLocale: Locale): Locale {
  return (profileLocale ? lookupLocale(profileLocale) : undefined) ?? requestLocale;
}

/** A mailed page opens in the mail's language; the token stays in the fragment, out of logs and Referers. */
function mailedLink(settings: RegisterSettings, tenant: TenantRef, page: string, locale: Locale, token: string): string {
  return `${settings.publicUrl}/t/${tenant.slug}/${page}?ui_locales=${locale}#token=${encodeURIComponent(token)}`;
}

/** Both parts of a mail in the tenant's name and look: text for every client, HTML for those that show it. */
function branded(to: string, subject: string, content: MailContent, locale: Locale): OutgoingMail {
  return { to, subject, text: mailText(content), html: mailHtml(content, locale) };
}

/** A mail whose point is a link to one of register's pages (with the token as a code to type, too). */
interface LinkMail {
  readonly page: string;
  readonly subject: MessageKey;
  readonly intro: (say: Say, site: string, link: string) => string[];
  readonly button: MessageKey;
  readonly after: (say: Say) => string[];
}

function linkMail(tenant: TenantRef, to: string, token: string, settings: RegisterSettings, locale: Locale, mail: LinkMail): OutgoingMail {
  const say = sayIn(locale);
  const site = siteNameOf(tenant.name, tenant.branding);
  const link = mailedLink(settings, tenant, mail.page, locale, token);
  return branded(
    to,
    say(mail.subject, { site }),
    {
      site,
      brand: tenant.branding,
      say,
      intro: mail.intro(say, site, link),
      link,
      button: say(mail.button),
      after: [say('mail.code', { code: token }), '', ...mail.after(say)],
    },
    locale,
  );
}

const expiryIn = (say: Say, settings: RegisterSettings) =>
  say('mail.verification.expiry', { hours: Math.round(settings.verificationTokenTtlMs / 3_600_000) });

export function verificationMail(tenant: TenantRef, to: string, token: string, settings: RegisterSettings, locale: Locale): OutgoingMail {
  return linkMail(tenant, to, token, settings, locale, {
    page: 'verify-email',
    subject: 'mail.verification.subject',
    intro: (say, site, link) => [say('mail.verification.welcome', { site }), '', say('mail.verification.link', { link })],
    button: 'mail.verification.button',
    after: (say) => [expiryIn(say, settings)],
  });
}

export function passwordResetMail(tenant: TenantRef, to: string, token: string, settings: RegisterSettings, locale: Locale): OutgoingMail {
  return linkMail(tenant, to, token, settings, locale, {
    page: 'reset-password',
    subject: 'mail.reset.subject',
    intro: (say, site, link) => [say('mail.reset.asked', { site }), say('mail.reset.link', { link })],
    button: 'mail.reset.button',
    after: (say) => [say('mail.reset.notYou')],
  });
}

/** To the new address: the link that makes it the account's, once opened. */
export function emailChangeMail(tenant: TenantRef, to: string, token: string, settings: RegisterSettings, locale: Locale): OutgoingMail {
  return linkMail(tenant, to, token, settings, locale, {
    page: 'confirm-email-change',
    subject: 'mail.emailChange.subject',
    intro: (say, site, link) => [say('mail.emailChange.asked', { site }), '', say('mail.emailChange.link', { link })],
    button: 'mail.emailChange.button',
    after: (say) => [expiryIn(say, settings), say('mail.emailChange.until')],
  });
}

/** To the address in use: a change was asked for. No link and no code: it must not help whoever asked. */
export function emailChangeNoticeMail(tenant: TenantRef, to: string, locale: Locale): OutgoingMail {
  const say = sayIn(locale);
  const site = siteNameOf(tenant.name, tenant.branding);
  return branded(
    to,
    say('mail.emailChangeNotice.subject', { site }),
    {
      site,
      brand: tenant.branding,
      say,
      intro: [say('mail.emailChangeNotice.asked', { site })],
      after: ['', say('mail.emailChangeNotice.notYou')],
    },
    locale,
  );
}
