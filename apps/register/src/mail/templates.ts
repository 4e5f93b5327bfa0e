import { lookupLocale, type Locale } from '#platform';
import { sayIn } from '../messages/messages';
import type { RegisterSettings, TenantRef } from '../register.ports';
import type { OutgoingMail } from './mailer';

/**
 * The language of a mail, decided when the request that causes it is answered (mails go out in
 * the background, after it): the person's profile `locale` when it names a supported language,
 * else the language of the page or call that caused the mail, which itself fell back to the
 * default (DEFAULT_LOCALE) when it named none.
 */
export function mailLocale(profileLocale: string | null | undefined, requestLocale: Locale): Locale {
  return (profileLocale ? lookupLocale(profileLocale) : undefined) ?? requestLocale;
}

/** A mailed page opens in the mail's language; the token stays in the fragment, out of logs and Referers. */
function mailedLink(settings: RegisterSettings, tenant: TenantRef, page: string, locale: Locale, token: string): string {
  return `${settings.publicUrl}/t/${tenant.slug}/${page}?ui_locales=${locale}#token=${encodeURIComponent(token)}`;
}

export function verificationMail(tenant: TenantRef, to: string, token: string, settings: RegisterSettings, locale: Locale): OutgoingMail {
  const say = sayIn(locale);
  const site = tenant.name;
  return {
    to,
    subject: say('mail.verification.subject', { site }),
    text: [
      say('mail.verification.welcome', { site }),
      '',
      say('mail.verification.link', { link: mailedLink(settings, tenant, 'verify-email', locale, token) }),
      say('mail.code', { code: token }),
      '',
      say('mail.verification.expiry', { hours: Math.round(settings.verificationTokenTtlMs / 3_600_000) }),
    ].join('\n'),
  };
}

export function passwordResetMail(tenant: TenantRef, to: string, token: string, settings: RegisterSettings, locale: Locale): OutgoingMail {
  const say = sayIn(locale);
  const site = tenant.name;
  return {
    to,
    subject: say('mail.reset.subject', { site }),
    text: [
      say('mail.reset.asked', { site }),
      say('mail.reset.link', { link: mailedLink(settings, tenant, 'reset-password', locale, token) }),
      say('mail.code', { code: token }),
      '',
      say('mail.reset.notYou'),
    ].join('\n'),
  };
}
