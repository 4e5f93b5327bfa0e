const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attributes (every attribute here is quoted). */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export interface HostedPage {
  /** Whose page it is: the tenant's display name. */
  readonly siteName: string;
  readonly title: string;
  /** The page's content; every dynamic value in it must already be escaped. */
  readonly body: string;
  readonly lang?: string;
  /** Same-origin scripts the page loads (progressive enhancement: the page works without them). */
  readonly scripts?: readonly string[];
}

/**
 * The default theme of every hosted page (sign-in, sign-up, mailed links): one centred card,
 * system fonts, contrast above WCAG AA, visible focus, no external resources.
 */
const THEME = `:root{color-scheme:light;--accent:#3446d4;--ink:#1d2330;--muted:#5a6275;--line:#d7dbe5;--bad:#a4161a;--good:#146c43}
*{box-sizing:border-box}body{margin:0;min-height:100vh;background:#f3f5f9;color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;display:flex;align-items:flex-start;justify-content:center}
main{background:#fff;margin:4rem 1rem;padding:2rem 2.25rem;width:100%;max-width:26rem;border-radius:12px;box-shadow:0 1px 3px rgba(16,24,40,.1),0 8px 24px rgba(16,24,40,.06)}
.site{margin:0 0 .25rem;color:var(--muted);font-size:.9rem;font-weight:600;letter-spacing:.02em}h1{margin:0 0 1.25rem;font-size:1.5rem;line-height:1.25}
label{display:block;margin:1rem 0 .3rem;font-weight:600;font-size:.95rem}input[type=email],input[type=password],input[type=text]{display:block;width:100%;padding:.6rem .75rem;border:1px solid #9aa1b2;border-radius:8px;font:inherit}
input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
button{display:block;width:100%;margin-top:1.5rem;padding:.7rem;border:0;border-radius:8px;background:var(--accent);color:#fff;font:inherit;font-weight:600;cursor:pointer}
button.secondary{background:#fff;color:var(--accent);border:1px solid var(--accent);margin-top:.75rem}
.check{display:flex;gap:.5rem;align-items:flex-start;margin-top:1rem;font-weight:400}.check input{margin-top:.3rem}
.hint{color:var(--muted);font-size:.875rem;margin:.3rem 0 0}.error{color:var(--bad);font-weight:600}.done{color:var(--good);font-weight:600}
.links{margin-top:1.5rem;display:flex;justify-content:space-between;gap:1rem;font-size:.925rem}a{color:var(--accent)}`;

export function hostedPage(page: HostedPage): string {
  const scripts = (page.scripts ?? []).map((src) => `<script src="${escapeHtml(src)}" defer></script>`).join('');
  return `<!DOCTYPE html>
<html lang="${escapeHtml(page.lang ?? 'en')}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} – ${escapeHtml(page.siteName)}</title>
<style>${THEME}</style>${scripts}
</head><body><main><p class="site">${escapeHtml(page.siteName)}</p><h1>${escapeHtml(page.title)}</h1>${page.body}</main></body></html>`;
}

/**
 * Headers every hosted page carries: never cached or framed, no referrer (a mailed token must not
 * leave in one), and a CSP that allows the inline theme and, where a page has them, its own
 * same-origin scripts and the same-origin requests they make (`fetches`), nothing else.
 */
export function hostedPageHeaders(options: { readonly scripts?: boolean; readonly fetches?: boolean } = {}): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; ${options.scripts ? "script-src 'self'; " : ''}${options.fetches ? "connect-src 'self'; " : ''}form-action 'self' *; frame-ancestors 'none'; base-uri 'none'`,
    'referrer-policy': 'no-referrer',
  };
}
