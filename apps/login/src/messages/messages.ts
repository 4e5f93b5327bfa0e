import { escapeHtml, fillMessage, negotiateLocale, type Locale } from '#platform';
import { en, type LoginMessageKey } from './en';
import { fr } from './fr';

export type { LoginMessageKey };

const CATALOGUES: Readonly<Record<Locale, Readonly<Record<LoginMessageKey, string>>>> = { en, fr };

/** Login's words in one language, as text (`say`) or as HTML whose placeholders take markup (`sayHtml`). */
export interface Words {
  readonly locale: Locale;
  say(key: LoginMessageKey, values?: Readonly<Record<string, string | number>>): string;
  /** The message escaped for HTML, its placeholders filled with `markup`, which must already be safe HTML. */
  sayHtml(key: LoginMessageKey, markup?: Readonly<Record<string, string>>): string;
}

/** The installation's default language of login's pages (DEFAULT_LOCALE). */
export const DEFAULT_LOCALE = Symbol('DefaultLocale');

/**
 * The words of a page: in the first supported language of the authorization request's
 * `ui_locales`, else the browser's Accept-Language, else the default.
 */
export function wordsFor(uiLocales: unknown, acceptLanguage: unknown, defaultLocale: Locale): Words {
  return wordsIn(negotiateLocale(uiLocales, acceptLanguage, defaultLocale));
}

/** The page's language, posted back with its form so that an answer to the post speaks it too. */
export function languageField(words: Words): string {
  return `<input type="hidden" name="ui_locales" value="${escapeHtml(words.locale)}">`;
}

/** A hosted page, written once its language is known. */
export type LocalisedPage = (words: Words) => string;

export function wordsIn(locale: Locale): Words {
  const catalogue = CATALOGUES[locale];
  return {
    locale,
    say: (key, values) => fillMessage(catalogue[key], values),
    sayHtml: (key, markup) => fillMessage(escapeHtml(catalogue[key]), markup),
  };
}
