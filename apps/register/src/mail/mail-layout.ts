import { brandColors, escapeHtml, isBrandEmail, isBrandUrl, type Branding } from '#platform';
import type { Say } from '../messages/messages';

/** One mail's content: paragraphs of text, and the link its button opens. */
export interface MailContent {
  readonly site: string;
  readonly brand: Branding;
  readonly say: Say;
  /** Lines before the button (an empty one: a blank line in the text part). */
  readonly intro: readonly string[];
  /** The link its button opens; a notice (the old address told of a change) has none. */
  readonly link?: string;
  readonly button?: string;
  /** Paragraphs after it (the code, the expiry, "not you?"). */
  readonly after: readonly string[];
}

/** The sign-off every mail ends with: the tenant's support address and legal links, when it set them. */
function signOff({ site, brand, say }: MailContent): { text: string[]; html: string[] } {
  const text = ['--', site];
  const html: string[] = [];
  if (isBrandEmail(brand.supportEmail)) {
    text.push(say('mail.support', { email: brand.supportEmail }));
    html.push(
      `<a href="mailto:${escapeHtml(brand.supportEmail)}" style="color:#5a6275">${escapeHtml(say('mail.support', { email: brand.supportEmail }))}</a>`,
    );
  }
  for (const [key, url] of [
    ['mail.terms', brand.termsUrl],
    ['mail.privacy', brand.privacyUrl],
  ] as const) {
    if (!isBrandUrl(url)) continue;
    text.push(`${say(key)}: ${url}`);
    html.push(`<a href="${escapeHtml(url)}" style="color:#5a6275">${escapeHtml(say(key))}</a>`);
  }
  return { text, html };
}

/** The plain-text part: what every mail client shows, and what the tests and the dev mailbox read. */
export function mailText(content: MailContent): string {
  return [...content.intro, ...content.after, '', ...signOff(content).text].join('\n');
}

/**
 * The HTML part, in the tenant's look. Mail clients drop style sheets, so styles are inline; every
 * value is escaped, colours come only from `#rrggbb` (brandColors) and the logo only from an https
 * URL that passes the rules, as on the pages.
 */
export function mailHtml(content: MailContent, lang: string): string {
  const colors = brandColors(content.brand) ?? { primary: '#3446d4', onPrimary: '#ffffff', link: '#3446d4', accent: '#3446d4' };
  const logo = isBrandUrl(content.brand.logoUrl)
    ? `<img src="${escapeHtml(content.brand.logoUrl)}" alt="${escapeHtml(content.site)}" height="40" style="display:block;max-height:40px;margin:0 0 16px">`
    : '';
  // Blank lines space the text part; in HTML the paragraphs do.
  const paragraphs = (lines: readonly string[]) =>
    lines
      .filter((line) => line !== '')
      .map((line) => `<p style="margin:0 0 16px">${escapeHtml(line)}</p>`)
      .join('');
  const { html: footer } = signOff(content);
  return `<!DOCTYPE html><html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"><title>${escapeHtml(content.site)}</title></head>
<body style="margin:0;padding:24px 12px;background:#f3f5f9;color:#1d2330;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:12px;border-top:4px solid ${colors.accent};padding:32px">
${logo}<p style="margin:0 0 16px;color:#5a6275;font-weight:600">${escapeHtml(content.site)}</p>
${paragraphs(content.intro)}
${
  content.link && content.button
    ? `<p style="margin:24px 0"><a href="${escapeHtml(content.link)}" style="display:inline-block;padding:12px 20px;border-radius:8px;background:${colors.primary};color:${colors.onPrimary};font-weight:600;text-decoration:none">${escapeHtml(content.button)}</a></p>`
    : ''
}
${paragraphs(content.after)}
</div>
${footer.length > 0 ? `<p style="max-width:560px;margin:16px auto 0;text-align:center;font-size:14px;color:#5a6275">${footer.join(' · ')}</p>` : ''}
</body></html>`;
}
