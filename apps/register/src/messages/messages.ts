import type { FastifyRequest } from 'fastify';
import { brandLocale, fillMessage, negotiateLocale, type Branding, type Locale } from '#platform';
import { en, type RegisterMessageKey } from './en';
import { fr } from './fr';

export type { RegisterMessageKey };

const CATALOGUES: Readonly<Record<Locale, Readonly<Record<RegisterMessageKey, string>>>> = { en, fr };

/** Register's words in one language: `say(key, values)` is the catalogue's message with its placeholders filled. */
export type Say = (key: RegisterMessageKey, values?: Readonly<Record<string, string | number>>) => string;

/**
 * The language of an API call's mails: the caller's Accept-Language, else the tenant's default
 * language, else the installation's (the API takes no ui_locales).
 */
export function languageOfCall(request: FastifyRequest, tenant: { readonly branding: Branding }, defaultLocale: Locale): Locale {
  return negotiateLocale(undefined, request.headers['accept-language'], brandLocale(tenant.branding, defaultLocale));
}

export function sayIn(locale: Locale): Say {
  const catalogue = CATALOGUES[locale];
  return (key, values) => fillMessage(catalogue[key], values);
}
