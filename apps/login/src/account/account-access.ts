import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { brandLocale, hostedPageHeaders, ProblemError, type Locale } from '#platform';
import { brandingOfPage, LoginDirectory, type LoginTenant } from '../directory';
import { wordsFor, type LocalisedPage } from '../messages/messages';
import { signedOutView } from '../mfa/account-security.views';
import { ProviderCache } from '../oidc/provider-cache';

/** The person the browser's session at a tenant signed in, as the account pages know them. */
export interface SignedIn {
  readonly tenant: LoginTenant;
  readonly userId: string;
  readonly email: string;
  readonly csrf: string;
  /** The session's uid: what a passkey registration's challenge is bound to, and the session the sessions page marks as this one. */
  readonly sessionUid: string;
}

/**
 * What every signed-in account page needs (security, password, sessions): the browser's session at
 * the tenant (oidc-provider's session cookie, scoped to /t/{tenant}) and a CSRF token bound to that
 * session, which every form posts back. One instance, shared by those pages' controllers.
 */
export class AccountAccess {
  /** Imported once: an HMAC under a raw Buffer key imports the key again each time. */
  private readonly csrfKey: KeyObject;

  constructor(
    private readonly directory: LoginDirectory,
    private readonly providers: ProviderCache,
    csrfSecret: Buffer,
    readonly defaultLocale: Locale,
  ) {
    this.csrfKey = createSecretKey(csrfSecret);
  }

  async tenantOf(slug: string): Promise<LoginTenant> {
    const tenant = await this.directory.tenantBySlug(slug);
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    return tenant;
  }

  /** The signed-in person, or undefined when this browser has no session here (or its person is gone). */
  async signedIn(slug: string, req: FastifyRequest, reply: FastifyReply): Promise<SignedIn | undefined> {
    const tenant = await this.tenantOf(slug);
    const provider = await this.providers.get(tenant);
    const session = await provider.Session.get(provider.createContext(req.raw, reply.raw));
    if (!session.accountId) return undefined;
    const credential = await this.directory.credentialById(tenant.tenantId, session.accountId);
    if (!credential) return undefined;
    const csrf = createHmac('sha256', this.csrfKey).update(`${tenant.tenantId}|account|${session.uid}`).digest('base64url');
    return { tenant, userId: credential.userId, email: credential.email, csrf, sessionUid: session.uid };
  }

  /** The signed-in person of a page; without one, the page that says to sign in first is the answer (401) and undefined is returned. */
  async signedInOrAnswered(slug: string, req: FastifyRequest, reply: FastifyReply): Promise<SignedIn | undefined> {
    const person = await this.signedIn(slug, req, reply);
    if (!person) await this.send(reply, 401, signedOutView(await this.tenantOf(slug)));
    return person;
  }

  /** The signed-in person of a form post, whose CSRF token must be this session's; 403 otherwise. */
  async posted(slug: string, req: FastifyRequest, reply: FastifyReply): Promise<SignedIn> {
    const person = await this.signedIn(slug, req, reply);
    const presented = Buffer.from(stringField(req, 'csrf', 200));
    const expected = Buffer.from(person?.csrf ?? '');
    if (!person || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw new ProblemError({
        status: 403,
        type: 'csrf-token-invalid',
        title: 'Form token missing or wrong',
        detail: 'reload the page, signed in, and submit the form again',
      });
    }
    return person;
  }

  /**
   * A page in the browser's language: `ui_locales` in the address or the form, else Accept-Language,
   * else the tenant's default language, else the installation's; in the tenant's look.
   */
  async send(reply: FastifyReply, status: number, page: LocalisedPage): Promise<void> {
    const request = reply.request;
    const branding = await brandingOfPage(this.directory, request);
    const words = wordsFor(
      (request.query as Record<string, unknown> | undefined)?.ui_locales ?? stringField(request, 'ui_locales', 64),
      request.headers['accept-language'],
      brandLocale(branding, this.defaultLocale),
    );
    // The security page loads the passkey script (script-src 'self', and its requests: connect-src 'self'); the others have none.
    await reply
      .code(status)
      .headers(hostedPageHeaders({ scripts: true, fetches: true, brand: branding }))
      .send(page(words));
  }
}

/** A form field as one bounded string; anything else (missing, repeated, an object) is empty. */
export function stringField(req: FastifyRequest, name: string, max: number): string {
  const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
  const value = body[name];
  return typeof value === 'string' ? value.slice(0, max) : '';
}
