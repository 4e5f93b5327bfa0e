import { Controller, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseBody, ProblemError, TenantConcurrencyLimiter } from '#platform';
import type { AppendResult, StreamAppend } from '#eventstore';
import { LoginDirectory, type Credential, type LoginTenant } from '../directory';
import { badInteraction, formOf, InteractionAccess } from '../sign-in/interaction-access';
import { SIGN_IN_LIMITER } from '../sign-in/interaction.http';
import { PasswordCheck } from '../sign-in/password-check';
import type { ResumeOutcome } from '../oidc/page-resume';
import { passkeyAssertionBody, Passkeys, type PasskeyCheck } from './passkeys';
import { PASSKEY_ONLY, PASSWORD_AND_PASSKEY, pendingSecondFactorOf } from './second-factor-step';

const REFUSED: Record<Exclude<PasskeyCheck, { ok: true }>['reason'], string> = {
  'no-challenge': 'no passkey request is outstanding on this sign-in (it was used or has expired); ask for one again',
  'unknown-passkey': 'this passkey is not registered to a person who can sign in here',
  'not-verified': 'the passkey’s signature does not verify',
  cloned: 'this passkey’s signature count went back: it may have been copied; it is refused',
};

/**
 * A sign-in with a passkey, on the same interaction as the password form: as the second step after
 * a right password (the person is known, their passkeys are offered), or instead of the password
 * (discoverable credentials: the authenticator says whose passkey it is). JSON both ways, for the
 * page's script (passkey-script.ts); the browser then goes where the answer says, into the
 * authorization, as the forms' 303 would have sent it.
 */
@Controller('t/:tenant/interaction/:uid/passkey')
export class PasskeySignInController {
  constructor(
    private readonly access: InteractionAccess,
    private readonly directory: LoginDirectory,
    private readonly passkeys: Passkeys,
    private readonly passwords: PasswordCheck,
    @Inject(SIGN_IN_LIMITER) private readonly signIns: TenantConcurrencyLimiter,
  ) {}

  @Post('options')
  @HttpCode(200)
  async options(
    @Param('tenant') slug: string,
    @Param('uid') uid: string,
    @Query('step') step: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    if (step === 'first') {
      // The sign-in page's (which carries one already; this is for another attempt): a challenge for whoever's
      // passkey answers, bound to the interaction this browser holds the cookie of. Nothing is read or stored.
      const { tenant } = await this.access.startedHere(slug, uid, req, reply);
      this.access.requireCsrf(tenant, uid, formOf(req));
      const options = await this.passkeys.authenticationOptions(tenant.tenantId, uid);
      return void (await reply.code(200).header('cache-control', 'no-store').send(options));
    }
    const { tenant, details } = await this.access.interaction(slug, uid, req, reply);
    this.access.requireCsrf(tenant, uid, formOf(req));
    if (details.prompt.name !== 'login') throw badInteraction('this interaction does not ask for a sign-in');
    const pending = pendingSecondFactorOf(details);
    if (pending && pending.stage !== 'code') throw badInteraction('this sign-in is setting up an authenticator app');
    const options = await this.passkeys.authenticationOptions(tenant.tenantId, uid, pending?.accountId);
    await reply.code(200).header('cache-control', 'no-store').send(options);
  }

  @Post()
  async verify(@Param('tenant') slug: string, @Param('uid') uid: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const body = formOf(req);
    const named = personNamedBy(body);
    // One round trip: the interaction, and the credential and latest grant of the person the passkey says it is,
    // who signs in if it verifies. The challenge is sealed, not stored: the assertion carries it.
    const { tenant, details, expectedCredential } = await this.access.interaction(slug, uid, req, reply, () => ({ userId: named }));
    this.access.requireCsrf(tenant, uid, body);
    if (details.prompt.name !== 'login') throw badInteraction('this interaction does not ask for a sign-in');
    const assertion = parseBody(passkeyAssertionBody, body);
    const pending = pendingSecondFactorOf(details);
    if (pending && pending.stage !== 'code') throw badInteraction('this sign-in is setting up an authenticator app');
    const clientId = String(details.params.client_id ?? '');
    // A passkey used is stored in the sign-in's own statement: it counts as used exactly when the sign-in stands.
    let signedIn: { location: string } | undefined;
    let refusal: ProblemError | undefined;
    // Asked once: a use decided again (a race on the factors stream) signs in the person found the first time.
    let whoSignsIn: ReturnType<PasskeySignInController['passwordless']> | undefined;
    const signInWith = async (userId: string, append: StreamAppend): Promise<AppendResult | undefined> => {
      // The credential read with the interaction is the one of the person the user handle named (null: nobody's).
      const readAlready = named === userId ? expectedCredential : undefined;
      const who = pending ?? (await (whoSignsIn ??= this.passwordless(tenant, userId, clientId, readAlready)));
      if (who instanceof ProblemError) {
        refusal = who;
        return undefined;
      }
      const done = await this.access.completeWith(
        { req, reply },
        tenant,
        details,
        who,
        pending ? PASSWORD_AND_PASSKEY : PASSKEY_ONLY,
        append,
      );
      signedIn = whereNext(done.resumed);
      return done.stored;
    };
    // A signature check is cheap next to argon2id, but it is a sign-in: it takes the tenant's share like one.
    const check = await this.signIns.run(
      tenant.tenantId,
      () => this.passkeys.authenticate(tenant.tenantId, uid, assertion, pending?.accountId, signInWith),
      'sign-ins',
    );
    if (!check.ok) throw refused(check.reason);
    if (refusal) throw refusal;
    await reply.code(200).header('cache-control', 'no-store').send(signedIn);
  }

  /**
   * Who a passwordless passkey signs in: its person, under the rules a password sign-in has (a tenant
   * that refuses unverified addresses refuses them here too); the refusal to answer otherwise.
   */
  private async passwordless(tenant: LoginTenant, userId: string, clientId: string, readAlready?: Credential | null) {
    const credential =
      readAlready === undefined ? await this.directory.credentialById(tenant.tenantId, userId) : (readAlready ?? undefined);
    if (!credential) return refused('unknown-passkey');
    if (await this.passwords.refusedUnverified(tenant, credential, clientId))
      return new ProblemError({
        status: 403,
        type: 'email-unverified',
        title: 'The e-mail address is not verified',
        detail: 'confirm your e-mail address first: follow the link in the mail that was sent to you',
      });
    // The authorization resumes a redirect from now and asks for this person (findAccount): not read twice.
    this.directory.handOver(tenant.tenantId, credential);
    return { accountId: credential.userId, accountKey: this.passwords.accountKeyOf(tenant.tenantId, credential.email), clientId };
  }
}

/**
 * The page's script goes where the resumed authorization sends the browser (its 303: the client
 * with its code, or consent); anything else is an error the authorization rendered instead.
 */
function whereNext(resumed: ResumeOutcome): { location: string } {
  if (resumed.status >= 300 && resumed.status < 400 && resumed.location) return { location: resumed.location };
  throw new ProblemError({
    status: resumed.status >= 400 ? resumed.status : 500,
    type: 'authorization-failed',
    title: 'The sign-in could not go back to the application',
    detail: 'the authorization this sign-in belonged to could not continue; go back to the application and try again',
  });
}

/**
 * The person an assertion's user handle names, read leniently before the body is checked (only a
 * hint: the assertion decides); undefined unless it is a user id.
 */
function personNamedBy(body: Record<string, unknown>): string | undefined {
  const handle = (body.response as { response?: { userHandle?: unknown } } | undefined)?.response?.userHandle;
  if (typeof handle !== 'string' || handle.length > 64) return undefined;
  const named = Buffer.from(handle, 'base64url').toString('utf8');
  return USER_ID.test(named) ? named : undefined;
}

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function refused(reason: keyof typeof REFUSED): ProblemError {
  return new ProblemError({ status: 401, type: 'passkey-refused', title: 'The passkey did not sign in', detail: REFUSED[reason] });
}
