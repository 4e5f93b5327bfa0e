import { createHash } from 'node:crypto';
import { brandColors, logoOrigin, isBrandEmail, isBrandUrl, type Branding } from './branding';
import { isLocale, type Locale } from './locales';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attributes (every attribute here is quoted). */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export interface HostedPage {
  /** Whose page it is: the tenant's name (its branding's display name, when it has one, is shown instead). */
  readonly siteName: string;
  readonly title: string;
  /** The page's content; every dynamic value in it must already be escaped. */
  readonly body: string;
  readonly lang?: string;
  /** Same-origin scripts the page loads (progressive enhancement: the page works without them). */
  readonly scripts?: readonly string[];
  /** The tenant's branding: logo, colours, support and legal links. Send the same to hostedPageHeaders. */
  readonly brand?: Branding | null;
}

/**
 * The default theme of every hosted page (sign-in, sign-up, mailed links): one centred card,
 * system fonts, contrast above WCAG AA, visible focus, no external resources. A tenant's colours
 * only set the custom properties it reads (brandStyle), in a style element of their own.
 */
const THEME = `:root{color-scheme:light;--primary:#3446d4;--on-primary:#fff;--link:#3446d4;--band:#3446d4;--ink:#1d2330;--muted:#5a6275;--line:#d7dbe5;--bad:#a4161a;--good:#146c43}
*{box-sizing:border-box}body{margin:0;min-height:100vh;background:#f3f5f9;color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;display:flex;flex-direction:column;align-items:center}
main{background:#fff;margin:4rem 1rem 1.5rem;padding:2rem 2.25rem;width:calc(100% - 2rem);max-width:26rem;border-radius:12px;border-top:4px solid var(--band);box-shadow:0 1px 3px rgba(16,24,40,.1),0 8px 24px rgba(16,24,40,.06)}
.logo{display:block;max-height:40px;max-width:100%;margin:0 0 1rem}
.site{margin:0 0 .25rem;color:var(--muted);font-size:.9rem;font-weight:600;letter-spacing:.02em}h1{margin:0 0 1.25rem;font-size:1.5rem;line-height:1.25}
label{display:block;margin:1rem 0 .3rem;font-weight:600;font-size:.95rem}input[type=email],input[type=password],input[type=text]{display:block;width:100%;padding:.6rem .75rem;border:1px solid #9aa1b2;border-radius:8px;font:inherit}
input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid var(--primary);outline-offset:2px}
button{display:block;width:100%;margin-top:1.5rem;padding:.7rem;border:0;border-radius:8px;background:var(--primary);color:var(--on-primary);font:inherit;font-weight:600;cursor:pointer}
button.secondary{background:#fff;color:var(--link);border:1px solid var(--primary);margin-top:.75rem}
.check{display:flex;gap:.5rem;align-items:flex-start;margin-top:1rem;font-weight:400}.check input{margin-top:.3rem}
.hint{color:var(--muted);font-size:.875rem;margin:.3rem 0 0}.error{color:var(--bad);font-weight:600}.done{color:var(--good);font-weight:600}
.links{margin-top:1.5rem;display:flex;justify-content:space-between;gap:1rem;font-size:.925rem}a{color:var(--link)}
footer{margin:0 1rem 2rem;display:flex;flex-wrap:wrap;justify-content:center;gap:.4rem 1.25rem;font-size:.85rem;color:var(--muted)}footer a{color:var(--muted)}`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const THEME_HASH = sha256(THEME);

/** The custom properties of a tenant's colours, from values that pass `#rrggbb` (nothing else reaches CSS). */
function brandStyle(brand: Branding | null | undefined): string | undefined {
  const colors = brandColors(brand);
  if (!colors) return undefined;
  return `:root{--primary:${colors.primary};--on-primary:${colors.onPrimary};--link:${colors.link};--band:${colors.accent}}`;
}

/** The few words of the shared layout (its footer), per language; the pages' own words are each service's catalogues. */
const LAYOUT_WORDS: Readonly<Record<Locale, { readonly help: string; readonly terms: string; readonly privacy: string }>> = {
  en: { help: 'Help', terms: 'Terms', privacy: 'Privacy' },
  fr: { help: 'Aide', terms: 'Conditions d’utilisation', privacy: 'Confidentialité' },
};

function footer(brand: Branding | null | undefined, lang: string | undefined): string {
  const words = LAYOUT_WORDS[isLocale(lang) ? lang : 'en'];
  const links = [
    isBrandEmail(brand?.supportEmail) ? `<a href="mailto:${escapeHtml(brand.supportEmail)}">${escapeHtml(words.help)}</a>` : '',
    isBrandUrl(brand?.termsUrl) ? `<a href="${escapeHtml(brand.termsUrl)}" rel="noopener">${escapeHtml(words.terms)}</a>` : '',
    isBrandUrl(brand?.privacyUrl) ? `<a href="${escapeHtml(brand.privacyUrl)}" rel="noopener">${escapeHtml(words.privacy)}</a>` : '',
  ].filter(Boolean);
  return links.length > 0 ? `<footer>${links.join('')}</footer>` : '';
}

/** The name a page shows: the branding's display name, else the tenant's. */
export function siteNameOf(siteName: string, brand: Branding | null | undefined): string {
  const display = brand?.displayName?.trim();
  return display ? display : siteName;
}

export function hostedPage(page: HostedPage): string {
  const scripts = (page.scripts ?? []).map((src) => `<script src="${escapeHtml(src)}" defer></script>`).join('');
  const site = siteNameOf(page.siteName, page.brand);
  const colors = brandStyle(page.brand);
  const logo = isBrandUrl(page.brand?.logoUrl)
    ? `<img class="logo" src="${escapeHtml(page.brand.logoUrl)}" alt="${escapeHtml(site)}">`
    : '';
  return `<!DOCTYPE html>
<html lang="${escapeHtml(page.lang ?? 'en')}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} – ${escapeHtml(site)}</title>
<style>${THEME}</style>${colors ? `<style>${colors}</style>` : ''}${scripts}
</head><body><main>${logo}<p class="site">${escapeHtml(site)}</p><h1>${escapeHtml(page.title)}</h1>${page.body}</main>${footer(page.brand, page.lang)}</body></html>`;
}

/**
 * Headers every hosted page carries: never cached or framed, no referrer (a mailed token must not
 * leave in one), and a CSP that allows the theme and the tenant's colours by hash (no other inline
 * style, no inline script), the tenant's logo from its origin only, and, where a page has them, its
 * own same-origin scripts and the same-origin requests they make (`fetches`), nothing else. Give it
 * the branding the page was rendered with.
 */
export function hostedPageHeaders(
  options: { readonly scripts?: boolean; readonly fetches?: boolean; readonly brand?: Branding | null } = {},
): Record<string, string> {
  const colors = brandStyle(options.brand);
  const styles = colors ? `${THEME_HASH} ${sha256(colors)}` : THEME_HASH;
  const logo = logoOrigin(options.brand);
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'content-security-policy': `default-src 'none'; style-src ${styles}; ${logo ? `img-src ${logo}; ` : ''}${options.scripts ? "script-src 'self'; " : ''}${options.fetches ? "connect-src 'self'; " : ''}form-action 'self' *; frame-ancestors 'none'; base-uri 'none'`,
    'referrer-policy': 'no-referrer',
  };
}
