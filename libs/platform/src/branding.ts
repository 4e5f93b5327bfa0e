import { BOUNDS, textProblem } from './input-bounds';
import { isLocale, type Locale } from './locales';
import type { FieldError } from './problem-details';

/**
 * A tenant's look on its hosted pages and mails, and the language they fall back to. Every field
 * may be null: the default theme's colour, the tenant's name, the installation's language.
 * Structurally the `TenantBranding` register's events carry (#contracts).
 */
export interface Branding {
  readonly displayName: string | null;
  readonly logoUrl: string | null;
  readonly primaryColor: string | null;
  readonly accentColor: string | null;
  readonly supportEmail: string | null;
  readonly termsUrl: string | null;
  readonly privacyUrl: string | null;
  readonly defaultLocale: string | null;
}

export const NO_BRANDING: Branding = {
  displayName: null,
  logoUrl: null,
  primaryColor: null,
  accentColor: null,
  supportEmail: null,
  termsUrl: null,
  privacyUrl: null,
  defaultLocale: null,
};

export const BRANDING_FIELDS = Object.keys(NO_BRANDING) as readonly (keyof Branding)[];

/** A whole branding from the fields given (the others null), and nothing but its fields. */
export function completeBranding(fields: Readonly<Partial<Record<keyof Branding, string | null>>>): Branding {
  return Object.fromEntries(BRANDING_FIELDS.map((field) => [field, fields[field] ?? null])) as unknown as Branding;
}

/** Only `#rrggbb`: it goes into a stylesheet, where anything looser (`red;}</style>`, `url(…)`) is markup. */
const COLOR = /^#[0-9a-fA-F]{6}$/;
/**
 * An https URL made only of characters RFC 3986 allows unencoded: no space, quote, angle bracket,
 * backslash or control character, so that it means the same in an attribute, a CSP and a mail.
 */
const HTTPS_URL = /^https:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&()*+,;=%]+$/;
/** A plain address (what a `mailto:` takes unencoded): no quotes, spaces, angle brackets or commas. */
const EMAIL =
  /^[A-Za-z0-9.!#$%&*+/=?^_{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const EMAIL_LENGTH = 254;

export function isBrandColor(value: unknown): value is string {
  return typeof value === 'string' && COLOR.test(value);
}

export function isBrandUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > BOUNDS.urlLength || !HTTPS_URL.test(value)) return false;
  try {
    const url = new URL(value);
    // Credentials in a link are phishing's favourite shape (https://bank.example@evil.example/).
    return url.protocol === 'https:' && url.hostname !== '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

export function isBrandEmail(value: unknown): value is string {
  return typeof value === 'string' && value.length <= EMAIL_LENGTH && EMAIL.test(value);
}

/**
 * Every field of a branding that breaks its rule, by JSON pointer: the display name is a name
 * (bounded, one line); URLs are https and at most 2,048 characters; colours `#rrggbb`; the support
 * address a plain e-mail; the language one the pages speak. Pure: the tenant decider's rule.
 */
export function brandingProblems(branding: Branding): FieldError[] {
  const problems: FieldError[] = [];
  const problem = (field: keyof Branding, message: string) => problems.push({ pointer: `/${field}`, message });
  const { displayName } = branding;
  if (displayName !== null) {
    const text = displayName.trim() === '' ? 'must not be blank' : textProblem(displayName, 'identifier', BOUNDS.nameLength);
    if (text) problem('displayName', text);
  }
  for (const field of ['logoUrl', 'termsUrl', 'privacyUrl'] as const) {
    const value = branding[field];
    if (value !== null && !isBrandUrl(value))
      problem(field, `must be an https URL of at most ${BOUNDS.urlLength} characters, without spaces, quotes or credentials`);
  }
  for (const field of ['primaryColor', 'accentColor'] as const) {
    if (branding[field] !== null && !isBrandColor(branding[field])) problem(field, 'must be a colour as #rrggbb');
  }
  if (branding.supportEmail !== null && !isBrandEmail(branding.supportEmail))
    problem('supportEmail', `must be a plain e-mail address of at most ${EMAIL_LENGTH} characters`);
  if (branding.defaultLocale !== null && !isLocale(branding.defaultLocale))
    problem('defaultLocale', 'must be a supported language (en, fr)');
  return problems;
}

/** The tenant's language when it set one the pages speak, else the installation's. */
export function brandLocale(branding: Branding | null | undefined, fallback: Locale): Locale {
  const chosen = branding?.defaultLocale;
  return isLocale(chosen) ? chosen : fallback;
}

/** The origin a tenant's logo loads from (for the page's img-src), when its logo passes the rules. */
export function logoOrigin(branding: Branding | null | undefined): string | undefined {
  return isBrandUrl(branding?.logoUrl) ? new URL(branding.logoUrl).origin : undefined;
}

const WHITE = '#ffffff';
const INK = '#1d2330';

/** WCAG 2.x relative luminance of `#rrggbb`. */
function luminance(color: string): number {
  const channel = (offset: number) => {
    const value = parseInt(color.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

export function contrastRatio(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/** The custom properties a tenant's colours set, from `#rrggbb` values only. */
export interface BrandColors {
  /** Buttons and focus rings. */
  readonly primary: string;
  /** Text on a primary button: white or ink, whichever contrasts more. */
  readonly onPrimary: string;
  /** Links on the white card: the primary colour when it reaches AA (4.5:1) there, else ink. */
  readonly link: string;
  /** The card's top band (decoration, never behind text). */
  readonly accent: string;
}

/**
 * The page's colours from a branding, or undefined when it sets none that pass the rules (the
 * default theme's then). The theme keeps text readable whatever the tenant picks: a pale primary
 * gets ink text on its buttons and leaves links ink.
 */
export function brandColors(branding: Branding | null | undefined): BrandColors | undefined {
  const primary = isBrandColor(branding?.primaryColor) ? branding.primaryColor.toLowerCase() : undefined;
  const accent = isBrandColor(branding?.accentColor) ? branding.accentColor.toLowerCase() : undefined;
  if (!primary && !accent) return undefined;
  const base = primary ?? '#3446d4';
  return {
    primary: base,
    onPrimary: contrastRatio(base, WHITE) >= contrastRatio(base, INK) ? WHITE : INK,
    link: contrastRatio(base, WHITE) >= 4.5 ? base : INK,
    accent: accent ?? base,
  };
}
