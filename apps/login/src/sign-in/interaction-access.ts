import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionDetails } from 'oidc-provider';
import type { AppendResult, StreamAppend } from '#eventstore';
import { ProblemError } from '#platform';
import { LoginDirectory, type Credential, type LoginTenant } from '../directory';
import { LoginEventLog } from '../login-events';
import { ProviderCache } from '../oidc/provider-cache';
import { collectArtefacts, RequestArtefacts, type AccountHint } from '../oidc/request-artefacts';
import { resumeInPage, type ResumeOutcome } from '../oidc/page-resume';
import type { PendingSecondFactor } from '../mfa/second-factor-step';
import { LoginSucceeded, SessionStarted, sessionStreamFor, signInStreamFor } from './sign-in.events';

export const INTERACTION_EXPIRED =
  'the sign-in session has expired or this browser did not start it; go back to the application and try again';
export const ANOTHER_INTERACTION = 'this browser is signing in through another interaction';

/** How a sign-in happened, for the ID token: RFC 8176 `amr` values and an `acr` discovery lists. */
export interface SignInMethod {
  readonly amr: readonly string[];
  readonly acr: string;
}

/**
 * What every page of a sign-in interaction needs (the password form, the second factor, passkeys):
 * this browser's interaction, a CSRF token bound to it, and the way back into the authorization
 * once the person is known. One instance, shared by the controllers of those pages.
 */
export class InteractionAccess {
  /** Imported once: an HMAC under a raw Buffer key imports the key again each time, several times the cost of the MAC. */
  private readonly csrfKey: KeyObject;
  /** What a sign-in page's read of its interaction brought along (the latest grant), for complete to resume with. */
  private readonly readAlong = new WeakMap<InteractionDetails, RequestArtefacts>();

  constructor(
    private readonly directory: LoginDirectory,
    private readonly providers: ProviderCache,
    private readonly events: LoginEventLog,
    csrfSecret: Buffer,
  ) {
    this.csrfKey = createSecretKey(csrfSecret);
  }

  async providerOf(slug: string) {
    const tenant = await this.directory.tenantBySlug(slug);
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    return { tenant, provider: await this.providers.get(tenant) };
  }

  /**
   * This browser's interaction `uid`. A page that may complete it says whom it expects to sign in
   * (`signingIn`, an empty hint when the interaction names them): the read then brings that
   * person's latest grant to the client along, for the authorization complete resumes. A hint
   * naming a user id brings their credential along
   * (`expectedCredential`, without its password hash; null when there is none). Where the event
   * store shares login's database, the revision of the person's factors stream comes too
   * (`factorsRead`).
   */
  async interaction(slug: string, uid: string, req: FastifyRequest, reply: FastifyReply, signingIn?: (tenant: LoginTenant) => AccountHint) {
    const { tenant, provider } = await this.providerOf(slug);
    let details: InteractionDetails;
    let expectedCredential: Credential | null | undefined;
    let factorsRead: RequestArtefacts['factorsRead'];
    try {
      if (signingIn) {
        const artefacts = new RequestArtefacts();
        artefacts.accountHint = signingIn(tenant);
        ({ result: details } = await collectArtefacts(() => provider.interactionDetails(req.raw, reply.raw), artefacts));
        ({ expectedCredential, factorsRead } = artefacts);
        this.readAlong.set(details, artefacts);
      } else {
        details = await provider.interactionDetails(req.raw, reply.raw);
      }
    } catch {
      throw badInteraction(INTERACTION_EXPIRED);
    }
    if (details.uid !== uid) throw badInteraction(ANOTHER_INTERACTION);
    return { tenant, details, provider, expectedCredential, factorsRead };
  }

  /**
   * The tenant of an interaction this browser started, known by its signed interaction cookie
   * alone, without reading the interaction: for what needs nothing stored (the empty sign-in form,
   * a passkey challenge for it). Whatever later acts on the interaction reads it then.
   */
  async startedHere(slug: string, uid: string, req: FastifyRequest, reply: FastifyReply) {
    const { tenant, provider } = await this.providerOf(slug);
    const started = provider.createContext(req.raw, reply.raw).cookies.get(provider.cookieName('interaction'), { signed: true });
    if (!started) throw badInteraction(INTERACTION_EXPIRED);
    if (started !== uid) throw badInteraction(ANOTHER_INTERACTION);
    return { tenant, provider };
  }

  csrfToken(tenant: LoginTenant, uid: string): string {
    return createHmac('sha256', this.csrfKey).update(`${tenant.tenantId}|${uid}`).digest('base64url');
  }

  requireCsrf(tenant: LoginTenant, uid: string, body: Record<string, unknown>): void {
    const presented = Buffer.from(typeof body.csrf === 'string' ? body.csrf : '');
    const expected = Buffer.from(this.csrfToken(tenant, uid));
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw new ProblemError({
        status: 403,
        type: 'csrf-token-invalid',
        title: 'Form token missing or wrong',
        detail: 'reload the sign-in page and submit the form again',
      });
    }
  }

  /**
   * The interaction's result (who signed in, and how: `amr` and `acr` go into the ID token), the
   * authorization it resumes, and the facts for other services (the sign-in and the session it
   * starts), stored together, in one statement where the store allows. The authorization resumes
   * inside this request (resumeInPage): returns what it answered, the browser's way on.
   */
  async complete(
    page: SignInPage,
    tenant: LoginTenant,
    details: InteractionDetails,
    who: Omit<PendingSecondFactor, 'stage'>,
    how: SignInMethod,
  ): Promise<ResumeOutcome> {
    return (await this.completeWith(page, tenant, details, who, how)).resumed;
  }

  /**
   * complete, with the append of the decision the sign-in rests on (the second factor it used)
   * stored in that same statement, guarded by the revision it was decided on: the sign-in stands
   * only with it (see LoginEventLog.recordAllWith). For CommandRunner's storeWith: a refused
   * statement is thrown before anything is answered, and a retry resumes afresh.
   */
  async completeWith(
    page: SignInPage,
    tenant: LoginTenant,
    details: InteractionDetails,
    who: Omit<PendingSecondFactor, 'stage'>,
    how: SignInMethod,
    decided?: StreamAppend,
  ): Promise<{ resumed: ResumeOutcome; stored?: AppendResult }> {
    const at = new Date().toISOString();
    const { accountId: userId, accountKey, clientId } = who;
    const signedIn = {
      streamName: signInStreamFor(tenant.tenantId, accountKey),
      events: [LoginSucceeded({ accountKey, userId, clientId, at })],
    };
    const session = {
      streamName: sessionStreamFor(tenant.tenantId, userId),
      events: [SessionStarted({ userId, sessionUid: details.uid, clientId, at })],
    };
    const login = { accountId: userId, amr: [...how.amr], acr: how.acr };
    // Merged with what earlier interactions of this authorization settled (a prompt=create that was shown).
    // What the page's read brought along (the latest grant), in artefacts of this try's own.
    const { artefacts } = await collectArtefacts(() => finish(details, { login }, true), this.readAlong.get(details)?.afresh());
    const provider = await this.providers.get(tenant);
    let stored: AppendResult | undefined;
    const resumed = await resumeInPage(provider, tenant, page.req, page.reply, details, artefacts, async (writes) => {
      stored = await this.events.recordAllWith(tenant.tenantId, [signedIn, session], writes, decided);
    });
    return { resumed, stored };
  }
}

/** The request of the hosted page that completes a sign-in, and its reply. */
export interface SignInPage {
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
}

/**
 * Answers a form post with what the resumed authorization answered (see resumeInPage): mostly a
 * 303 to the client with its code. The headers it set (the session cookie) are on the reply already.
 */
export async function sendResumed(reply: FastifyReply, resumed: ResumeOutcome): Promise<void> {
  reply.code(resumed.status).header('cache-control', 'no-store');
  for (const [name, value] of Object.entries(resumed.headers)) if (value !== undefined) reply.header(name, value);
  await reply.send(resumed.body ?? '');
}

/**
 * provider.interactionResult, on the interaction this request already loaded and checked
 * (interactionResult would read it, and its session, from storage again).
 */
export async function finish(
  details: InteractionDetails,
  result: Record<string, unknown>,
  mergeWithLastSubmission: boolean,
): Promise<string> {
  details.result = mergeWithLastSubmission && !('error' in result) ? { ...details.lastSubmission, ...result } : result;
  await details.persist();
  return details.returnTo;
}

export function formOf(req: FastifyRequest): Record<string, unknown> {
  const body = req.body;
  return body && typeof body === 'object' ? { ...(body as Record<string, unknown>) } : {};
}

export function badInteraction(detail: string): ProblemError {
  return new ProblemError({ status: 400, type: 'interaction-invalid', title: 'Sign-in cannot continue', detail });
}
