import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const PAGE_FORMS = Symbol('PageForms');

const COOKIE = 'tessera_forms';
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/**
 * What every form of register's hosted pages carries: a CSRF token bound to a random cookie of
 * this browser (double submit, the token an HMAC of the cookie so neither can be made up), and
 * where to continue afterwards. The cookie is scoped to the tenant's path and SameSite=Strict: a
 * form posted from another site arrives without it and is refused.
 */
export class PageForms {
  private readonly key: KeyObject;

  constructor(
    key: Buffer,
    /** Login's public URL: the only place a journey continues to (an OAuth flow that started it). */
    private readonly continueBase?: string,
  ) {
    this.key = createSecretKey(key);
  }

  /** The token for this browser's forms at this tenant, setting the browser's cookie when it has none. */
  tokenFor(request: FastifyRequest, reply: FastifyReply, tenantSlug: string): string {
    let browser = cookieOf(request);
    if (!browser) {
      browser = randomBytes(32).toString('base64url');
      const secure = request.protocol === 'https' ? '; Secure' : '';
      reply.header('set-cookie', `${COOKIE}=${browser}; Path=/t/${tenantSlug}; HttpOnly; SameSite=Strict${secure}`);
    }
    return this.mac(tenantSlug, browser);
  }

  /** Whether the form's token matches this browser's cookie at this tenant. */
  accepts(request: FastifyRequest, tenantSlug: string, presented: unknown): boolean {
    const browser = cookieOf(request);
    if (!browser || typeof presented !== 'string') return false;
    const expected = Buffer.from(this.mac(tenantSlug, browser));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * Where the journey continues, when the link or form names a page of login for this tenant
   * (its sign-in interaction); anything else is dropped, so no page redirects anywhere it is told.
   */
  continueTo(tenantSlug: string, requested: unknown): string | undefined {
    if (!this.continueBase || typeof requested !== 'string' || requested.length > 2048) return undefined;
    let url: URL;
    try {
      url = new URL(requested);
    } catch {
      return undefined;
    }
    const base = new URL(this.continueBase);
    const tenantPath = `${base.pathname.replace(/\/$/, '')}/t/${tenantSlug}/`;
    if (url.origin !== base.origin || !url.pathname.startsWith(tenantPath) || url.username || url.password) return undefined;
    return url.href;
  }

  /** Login's page where a signed-in person asks to change their address (where a failed change link starts again). */
  emailChangePage(tenantSlug: string): string | undefined {
    return this.continueBase ? `${this.continueBase.replace(/\/$/, '')}/t/${encodeURIComponent(tenantSlug)}/account/email` : undefined;
  }

  private mac(tenantSlug: string, browser: string): string {
    return createHmac('sha256', this.key).update(`${tenantSlug}|${browser}`).digest('base64url');
  }
}

function cookieOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === COOKIE && value && COOKIE_VALUE.test(value)) return value;
  }
  return undefined;
}
