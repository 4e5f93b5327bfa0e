import { escapeHtml } from '#platform';

export const JOURNEYS = Symbol('Journeys');

/** Where the journeys the sign-in page leads to live: register's hosted pages, and back here. */
export interface Journeys {
  /** Login's own public URL, the base of the interaction a journey continues. */
  readonly loginUrl: string;
  /** Register's public URL (REGISTER_PUBLIC_URL); without it the sign-in page links nowhere. */
  readonly registerUrl?: string;
}

/** Register's page `page` of the tenant, continuing at login's `continuePath` once done. */
export function journeyLink(
  journeys: Journeys,
  slug: string,
  page: 'sign-up' | 'forgot-password',
  continuePath: string,
): string | undefined {
  if (!journeys.registerUrl) return undefined;
  const tenant = encodeURIComponent(slug);
  const returnTo = `${journeys.loginUrl}/t/${tenant}/${continuePath}`;
  return `${journeys.registerUrl}/t/${tenant}/${page}?return_to=${encodeURIComponent(returnTo)}`;
}

/** The sign-in page's way to sign-up and to forgot-password, when register is known. */
export function journeyLinks(journeys: Journeys, slug: string, uid: string): string {
  const back = `interaction/${encodeURIComponent(uid)}`;
  const signUp = journeyLink(journeys, slug, 'sign-up', back);
  const forgot = journeyLink(journeys, slug, 'forgot-password', back);
  if (!signUp || !forgot) return '';
  return `<p class="links"><a href="${escapeHtml(forgot)}">Forgot your password?</a><a href="${escapeHtml(signUp)}">Create an account</a></p>`;
}
