/**
 * The languages of the hosted pages and mails, and how one is chosen for a request. Every service
 * keeps its own message catalogues (one data object per language, with the same keys); this module
 * holds only what they share: the list, the negotiation and the placeholder filling.
 */
export const SUPPORTED_LOCALES = ['en', 'fr'] as const;
export type Locale = (typeof SUPPORTED_LOCALES)[number];

/** A catalogue of another language must have exactly the keys of the one it translates. */
export type MessagesOf<Catalogue> = { readonly [Key in keyof Catalogue]: string };

// A header or query parameter is the sender's to make as long as it likes; only this much is read.
const MAX_INPUT_LENGTH = 1024;
const MAX_RANGES = 32;
const LANGUAGE_RANGE = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/;

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (SUPPORTED_LOCALES as readonly string[]).includes(value);
}

/**
 * RFC 4647 §3.4 lookup of one language range: the range itself, then shorter and shorter prefixes
 * (fr-CA-x-y, fr-CA, fr) until one is supported. Case does not matter in language tags.
 */
export function lookupLocale(range: string): Locale | undefined {
  if (!LANGUAGE_RANGE.test(range)) return undefined;
  const subtags = range.toLowerCase().split('-');
  while (subtags.length > 0) {
    const candidate = subtags.join('-');
    if (isLocale(candidate)) return candidate;
    subtags.pop();
    // A single-letter subtag (x-, an extension) never ends a prefix worth trying (RFC 4647 §3.4).
    if (subtags.length > 0 && subtags[subtags.length - 1]!.length === 1) subtags.pop();
  }
  return undefined;
}

/**
 * The language of a page or mail: the first supported of OpenID Connect's `ui_locales` (language
 * tags separated by spaces, in order of preference), else the best of the browser's
 * Accept-Language (by q-value, ties in the order sent, q=0 never), else `fallback`, the tenant's
 * or installation's default. Never throws, whatever the strings hold: they are the caller's.
 */
export function negotiateLocale(uiLocales: unknown, acceptLanguage: unknown, fallback: Locale): Locale {
  const fromUiLocales = firstText(uiLocales)
    .split(' ')
    .slice(0, MAX_RANGES)
    .map((range) => lookupLocale(range))
    .find((locale) => locale !== undefined);
  return fromUiLocales ?? fromAcceptLanguage(firstText(acceptLanguage)) ?? fallback;
}

function fromAcceptLanguage(header: string): Locale | undefined {
  const ranges = header
    .split(',')
    .slice(0, MAX_RANGES)
    .map((entry, order) => {
      const [range = '', ...parameters] = entry.split(';').map((part) => part.trim());
      const q = parameters.find((parameter) => /^q=/i.test(parameter));
      return { range, weight: q ? weightOf(q.slice(2)) : 1, order };
    })
    .filter((entry) => entry.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.order - b.order);
  for (const { range } of ranges) {
    const locale = lookupLocale(range);
    if (locale) return locale;
  }
  return undefined;
}

/** RFC 9110 §12.4.2: a qvalue is 0 to 1 with up to three decimals; anything else counts as absent (0). */
function weightOf(text: string): number {
  return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text) ? Number(text) : 0;
}

/** A query parameter may come repeated and a header as a list: the first string is the one read. */
function firstText(value: unknown): string {
  const text = Array.isArray(value) ? value.find((each) => typeof each === 'string') : value;
  return typeof text === 'string' ? text.slice(0, MAX_INPUT_LENGTH) : '';
}

/** A catalogue message with its `{name}` placeholders filled; a placeholder without a value stays as written. */
export function fillMessage(message: string, values: Readonly<Record<string, string | number>> = {}): string {
  return message.replace(/\{(\w+)\}/g, (placeholder, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : placeholder,
  );
}
