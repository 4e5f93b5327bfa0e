/**
 * A cookie-aware HTTP client that follows the hosted pages the way a browser without JavaScript
 * does: GET a page, read its form, POST it, follow redirects until the relying party's redirect URI.
 */
export class FormBrowser {
  private readonly cookies = new Map<string, string>();

  /** `headers`: what this browser sends with every request, such as its Accept-Language. */
  constructor(private readonly headers: Readonly<Record<string, string>> = {}) {}

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; raw?: { contentType: string; body: string }; cookiesBefore?: string } = {},
  ): Promise<{ status: number; location?: string; body: string; url: string; headers: Headers }> {
    const headers: Record<string, string> = { ...this.headers };
    // `cookiesBefore`: pairs sent ahead of this browser's own (a hostile page's doing, say).
    const cookie = [...(init.cookiesBefore ? [init.cookiesBefore] : []), ...(this.cookies.size ? [this.cookieHeader()] : [])].join('; ');
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.raw) {
      headers['content-type'] = init.raw.contentType;
      body = init.raw.body;
    }
    const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = response.headers.get('location') ?? undefined;
    return {
      status: response.status,
      location: location ? new URL(location, url).href : undefined,
      body: await response.text(),
      url,
      headers: response.headers,
    };
  }

  /** The Cookie header this browser sends, for another client to post as this browser would. */
  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /**
   * Follows redirects from `url` until one leaves for `stopAt` (returned) or a page answers
   * (returned). A `url` at `stopAt` already (a sign-in answered with the client's redirect) is
   * returned as that redirect, never requested.
   */
  async follow(url: string, stopAt: string) {
    if (url.startsWith(stopAt)) return { status: 303, location: url, body: '', url, headers: new Headers() };
    let current = await this.request(url);
    for (let hops = 0; hops < 10 && current.location && !current.location.startsWith(stopAt); hops++) {
      current = await this.request(current.location);
    }
    return current;
  }

  /** The first form of a page: its absolute action and hidden fields. */
  static form(page: { body: string; url: string }): { action: string; fields: Record<string, string> } {
    const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
    if (!action) throw new Error(`no form on the page: ${page.body.slice(0, 300)}`);
    const fields: Record<string, string> = {};
    for (const match of page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[match[1]!] = decode(match[2]!);
    return { action: new URL(decode(action), page.url).href, fields };
  }
}

function decode(text: string): string {
  return text.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&');
}
