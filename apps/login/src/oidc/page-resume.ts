import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { LoginTenant } from '../directory';
import { handlerOf, trustedForwarding } from './oidc-mount';
import { adoptRequestArtefacts, type ArtefactWrite, type RequestArtefacts } from './request-artefacts';

/** What the authorization answered when a page resumed it (see resumeInPage). */
export interface ResumeOutcome {
  readonly status: number;
  /** Where the browser goes next, absolute: the client with its code, or another interaction (consent). */
  readonly location?: string;
  readonly body: unknown;
  readonly headers: OutgoingHttpHeaders;
}

/** What runPageResume uses of Koa's context. */
export interface KoaContext {
  readonly req: IncomingMessage;
  respond?: boolean;
  readonly status: number;
  readonly body: unknown;
  readonly response: { get(name: string): string };
}

/** A resume a hosted page runs inside its own request, and what became of it. */
interface PageResume {
  readonly artefacts: RequestArtefacts;
  readonly store: (writes: ArtefactWrite[]) => Promise<void>;
  answered?: { status: number; location?: string; body: unknown };
  failure?: unknown;
}

// A symbol on the raw request: only login's own code can set it, never anything a browser sends.
const PAGE_RESUME = Symbol('tessera.login.pageResume');

type ResumableRequest = IncomingMessage & { originalUrl?: string; [PAGE_RESUME]?: PageResume };

/**
 * Resumes the authorization of `interaction` inside the sign-in request that just settled it, as
 * the browser's next request to its `returnTo` would, and answers what that request would have
 * answered. The browser saves a round trip; login saves a request and a statement: the
 * interaction's result is read from the page's pending writes, and everything the resume writes
 * (the interaction ended, the session, the code) goes to `store` with the page's own writes, in the
 * statement that records the sign-in. Nothing is written unless that statement is, and a failed
 * `store` is thrown here, before any response goes out (the caller may decide again and call again).
 *
 * The resume cookie oidc-provider checks binds the authorization to the browser that started it;
 * the page has already checked the interaction cookie, which binds the same interaction to the
 * same browser, so the page vouches for it with the resume cookie signed under the provider's keys.
 */
export async function resumeInPage(
  provider: Provider,
  tenant: LoginTenant,
  req: FastifyRequest,
  reply: FastifyReply,
  interaction: { readonly uid: string; readonly returnTo: string },
  artefacts: RequestArtefacts,
  store: (writes: ArtefactWrite[]) => Promise<void>,
): Promise<ResumeOutcome> {
  const raw = req.raw as ResumableRequest;
  // The authorization endpoint's resume, or the device flow's.
  const prefix = `/t/${tenant.slug}`;
  const returnTo = new URL(interaction.returnTo, provider.issuer).pathname;
  if (!returnTo.startsWith(`${prefix}/`)) throw new Error('the interaction returns outside its tenant');
  const page: PageResume = { artefacts, store };
  const name = provider.cookieName('resume');
  const keys = (provider as unknown as { keys: { sign(data: string): string } }).keys;
  const vouched = `${name}=${interaction.uid}; ${name}.sig=${keys.sign(`${name}=${interaction.uid}`)}`;
  // A resume cookie the browser sent itself (another authorization's, or made up) would be read
  // before the page's: only the page's goes.
  const others = (raw.headers.cookie ?? '')
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && !pair.startsWith(`${name}=`) && !pair.startsWith(`${name}.sig=`));
  // The request is the page's again once Koa is done: its logs, metrics and problems name the post.
  const { method, url, originalUrl } = raw;
  const headers = { ...raw.headers };
  trustedForwarding(req);
  raw.method = 'GET';
  raw.originalUrl = returnTo;
  raw.url = returnTo.slice(prefix.length);
  raw.headers.cookie = [vouched, ...others].join('; ');
  delete raw.headers['content-type'];
  delete raw.headers['content-length'];
  delete raw.headers['transfer-encoding'];
  raw[PAGE_RESUME] = page;
  // A second call (a decision taken again) starts from a response without the first one's cookies.
  reply.raw.removeHeader('set-cookie');
  const pageHeaders = new Set(reply.raw.getHeaderNames());
  try {
    await handlerOf(provider)(raw, reply.raw);
  } finally {
    Object.assign(raw, { method, url, originalUrl, headers });
    delete raw[PAGE_RESUME];
  }
  // The page answers. Of the headers Koa set, the cookies (the session's) stay on the response; the
  // rest go with the outcome, for a form post to send and a script's JSON to leave out.
  const resumeHeaders: OutgoingHttpHeaders = {};
  for (const header of reply.raw.getHeaderNames()) {
    if (header === 'set-cookie' || pageHeaders.has(header)) continue;
    resumeHeaders[header] = reply.raw.getHeader(header);
    reply.raw.removeHeader(header);
  }
  if (page.failure !== undefined || !page.answered) {
    reply.raw.removeHeader('set-cookie');
    throw page.failure ?? new Error('the authorization did not resume');
  }
  return { ...page.answered, headers: resumeHeaders };
}

/**
 * Runs a resume a page started (see resumeInPage) on the page's pending writes, then hands what it
 * wrote to the page's store. Koa sends nothing: the page answers, or throws what failed. Returns
 * false for a request of the browser's own.
 */
export async function runPageResume(provider: Provider, ctx: KoaContext, next: () => Promise<void>): Promise<boolean> {
  const page = (ctx.req as ResumableRequest)[PAGE_RESUME];
  if (!page) return false;
  adoptRequestArtefacts(ctx, page.artefacts);
  ctx.respond = false;
  try {
    await next();
    await page.store(page.artefacts.close());
    const location = ctx.response.get('location');
    page.answered = { status: ctx.status, location: location ? new URL(location, provider.issuer).href : undefined, body: ctx.body };
  } catch (error) {
    page.failure = error;
  }
  return true;
}
