import { Agent, request } from 'node:http';

export interface Answer {
  readonly status: number;
  readonly location?: string;
  readonly body: string;
}

/** Keep-alive HTTP with an optional cookie jar: the bench's browser and client in one. */
export class BenchHttp {
  private readonly cookies = new Map<string, string>();

  constructor(
    private readonly agent: Agent,
    private readonly base: string,
  ) {}

  send(
    method: string,
    path: string,
    options: { form?: Record<string, string>; json?: object; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const payload = options.form
      ? Buffer.from(new URLSearchParams(options.form).toString())
      : options.json
        ? Buffer.from(JSON.stringify(options.json))
        : undefined;
    const headers: Record<string, string> = { ...options.headers };
    const contentType = options.form ? 'application/x-www-form-urlencoded' : 'application/json';
    if (payload) Object.assign(headers, { 'content-type': contentType, 'content-length': String(payload.length) });
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const outgoing = request(new URL(path, this.base), { method, agent: this.agent, headers }, (response) => {
        for (const line of response.headers['set-cookie'] ?? []) {
          const pair = line.split(';')[0]!;
          const eq = pair.indexOf('=');
          this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, location: response.headers.location, body: Buffer.concat(chunks).toString('utf8') }),
        );
      });
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  }

  clearCookies(): void {
    this.cookies.clear();
  }
}

/** A browser that followed a client's authorization request (code, PKCE) to the sign-in page, and that page. */
export async function openSignInPageOf(
  agent: Agent,
  loginUrl: string,
  at: { slug: string; clientId: string; redirectUri: string },
): Promise<{ browser: BenchHttp; page: Answer }> {
  const browser = new BenchHttp(agent, loginUrl);
  const query = new URLSearchParams({
    client_id: at.clientId,
    response_type: 'code',
    redirect_uri: at.redirectUri,
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  const authorized = await browser.send('GET', `/t/${at.slug}/auth?${query}`);
  return { browser, page: await browser.send('GET', authorized.location!) };
}

/**
 * From where the sign-in sent the browser (the authorization resumed in the sign-in's own request
 * answers with the client's redirect and its code) on to that code: through the consent page the
 * first time a person signs in to the client. Returns 1 (one sign-in).
 */
export async function onToCode(browser: BenchHttp, next: string, redirectUri: string): Promise<number> {
  let location = next;
  if (!location.startsWith(redirectUri)) {
    const consentPage = await browser.send('GET', location);
    const consent = formOf(consentPage.body);
    const allowed = await browser.send('POST', consent.action, { form: { csrf: consent.csrf, decision: 'allow' } });
    location = (await browser.send('GET', allowed.location!)).location ?? '';
  }
  if (!location.startsWith(`${redirectUri}?code=`)) throw new Error(`no code: ${location}`);
  return 1;
}

/**
 * Where the page's passkey script asks for options and posts its answer, as the page says (its
 * #passkey block), and the options the page carries for its first attempt, when it does.
 */
export function passkeyBlockOf(html: string): {
  options: string;
  verify: string;
  csrf: string;
  request?: { challenge: string; rpId: string };
} {
  const attribute = (name: string) => /<div id="passkey"[^>]*/.exec(html)?.[0].match(new RegExp(`data-${name}="([^"]*)"`))?.[1];
  const [options, verify, csrf, request] = [attribute('options'), attribute('verify'), attribute('csrf'), attribute('request')];
  if (!options || !verify || !csrf) throw new Error('no passkey block on the page');
  return {
    options: decodeEntities(options),
    verify: decodeEntities(verify),
    csrf: decodeEntities(csrf),
    ...(request ? { request: JSON.parse(decodeEntities(request)) as { challenge: string; rpId: string } } : {}),
  };
}

const NAMED: Record<string, string> = { amp: '&', quot: '"', lt: '<', gt: '>' };
const decodeEntities = (text: string) =>
  text.replace(/&#(\d+);|&(amp|quot|lt|gt);/g, (_entity, code?: string, name?: string) =>
    code ? String.fromCharCode(Number(code)) : NAMED[name!]!,
  );

export function formOf(html: string): { action: string; csrf: string } {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]*)"/.exec(html)?.[1];
  if (!action || !csrf) throw new Error('no form on the page');
  return { action: decodeEntities(action), csrf: decodeEntities(csrf) };
}
