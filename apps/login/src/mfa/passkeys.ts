import { randomUUID } from 'node:crypto';
import {
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { CommandRunner } from '#cqrs';
import type { AppendResult, StreamAppend } from '#eventstore';
import { BOUNDS, bounded, RequestValidationError } from '#platform';
import type { LockoutPolicy } from '../sign-in/lockout.decider';
import { factorsDecider, type FactorsCommand, type FactorsRejection, type FactorsState, type StoredPasskey } from './factors.decider';
import { factorsStreamFor, type FactorEvent } from './factors.events';
import { CHALLENGE_TTL_S, newChallenge, PasskeyChallenges, sameChallenge } from './passkey-challenges';
import { signedChallengeOf, SignInChallenges } from './sign-in-challenges';
import { storedAlongsideOn, type FactorsStoreWith } from './second-factors';

/**
 * The relying party every tenant's passkeys belong to: login's public host (LOGIN_PUBLIC_URL).
 * Tenants share it, as they share login's origin; what keeps one tenant's passkey out of another
 * is that each is registered on a person's factors stream in one tenant, and the user handle the
 * authenticator returns names that person, whom the other tenant does not have.
 */
export interface RelyingParty {
  readonly id: string;
  readonly origin: string;
}

export function relyingPartyOf(publicUrl: string): RelyingParty {
  const url = new URL(publicUrl);
  return { id: url.hostname, origin: url.origin };
}

/** base64url as WebAuthn's JSON encodes binary; bounded so no field can be made to cost much. */
const base64url = (maxLength: number) =>
  z
    .string()
    .max(maxLength)
    .regex(/^[A-Za-z0-9_-]*$/, { message: 'must be base64url' });
/** Credential ids are at most 1023 bytes by the specification; ours are index-sized keys (BOUNDS.identifierLength). */
const credentialId = base64url(BOUNDS.identifierLength).min(16, { message: 'must be at least 16 bytes of base64url' });
const csrf = z.string().max(200);

/** A PublicKeyCredential as its toJSON() writes it, around the authenticator's `response`. */
const publicKeyCredential = <R extends z.ZodType>(response: R) =>
  z.object({
    id: credentialId,
    rawId: credentialId,
    type: z.literal('public-key'),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
    clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
    response,
  });

/** What the page posts after navigator.credentials.create(): the attestation, and the name the person gave. */
export const passkeyRegistrationBody = z
  .object({
    csrf,
    name: bounded.name(BOUNDS.nameLength),
    response: publicKeyCredential(
      z.object({
        clientDataJSON: base64url(4096),
        attestationObject: base64url(32_768),
        transports: z.array(bounded.identifier(32)).max(10).optional(),
      }),
    ),
  })
  .strict();

/** What the page posts after navigator.credentials.get(): the assertion. */
export const passkeyAssertionBody = z
  .object({
    csrf,
    response: publicKeyCredential(
      z.object({
        clientDataJSON: base64url(4096),
        authenticatorData: base64url(4096),
        // ML-DSA (post-quantum, which the library offers first where the runtime has it) signs in up to 4.6 KB.
        signature: base64url(8192),
        userHandle: base64url(128).optional(),
      }),
    ),
  })
  .strict();

export type PasskeyCheck =
  | { readonly ok: true; readonly userId: string }
  | { readonly ok: false; readonly reason: 'no-challenge' | 'unknown-passkey' | 'not-verified' | 'cloned' };

/**
 * Passkeys as the account page registers them and sign-in verifies them: the WebAuthn ceremony
 * (@simplewebauthn/server: the signature, the challenge, origin and RP id) at this edge, and the
 * rules (a credential once, a signature count that moves forward) in the factors decider. The
 * library is given a count of 0 so the decider, not the library, judges a count that goes back:
 * a clone is then refused with a PasskeyRefused event rather than a thrown error.
 */
export class Passkeys {
  private readonly decider: ReturnType<typeof factorsDecider>;

  constructor(
    private readonly commands: CommandRunner,
    policy: LockoutPolicy,
    private readonly challenges: PasskeyChallenges,
    private readonly signInChallenges: SignInChallenges,
    private readonly rp: RelyingParty,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.decider = factorsDecider(policy);
  }

  async state(tenantId: string, userId: string): Promise<FactorsState> {
    return (await this.commands.load(factorsStreamFor(tenantId, userId), this.decider)).state;
  }

  /** Options for navigator.credentials.create(): a discoverable, user-verifying passkey, none of those already registered. */
  async registrationOptions(
    tenant: { tenantId: string; name: string },
    person: { userId: string; email: string },
    binding: string,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const state = await this.state(tenant.tenantId, person.userId);
    const options = await generateRegistrationOptions({
      rpName: tenant.name,
      rpID: this.rp.id,
      userName: person.email,
      // The user handle: the person's id, which names nobody outside this tenant (no e-mail in it).
      userID: new TextEncoder().encode(person.userId),
      challenge: newChallenge(),
      timeout: CHALLENGE_TTL_S * 1000,
      attestationType: 'none',
      excludeCredentials: state.passkeys.map((passkey) => ({ id: passkey.credentialId, transports: [...passkey.transports] })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    await this.challenges.issue(tenant.tenantId, binding, options.challenge, person.userId);
    return options;
  }

  /** Verifies the attestation against the challenge of `binding` and registers the passkey; refusals name what was wrong. */
  async register(
    tenantId: string,
    userId: string,
    binding: string,
    body: z.output<typeof passkeyRegistrationBody>,
  ): Promise<{ ok: true } | { ok: false; reason: 'no-challenge' | FactorsRejection['kind'] }> {
    const issued = await this.challenges.take(tenantId, binding);
    if (!issued || issued.userId !== userId) return { ok: false, reason: 'no-challenge' };
    const verification = await this.verified('/response', () =>
      verifyRegistrationResponse({
        response: body.response as RegistrationResponseJSON,
        expectedChallenge: sameChallenge(issued.challenge),
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        requireUserVerification: true,
      }),
    );
    if (!verification.verified) throw new RequestValidationError([{ pointer: '/response', message: 'the attestation does not verify' }]);
    const { credential, credentialBackedUp } = verification.registrationInfo;
    const passkey = {
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: (credential.transports ?? []).slice(0, 10),
      backedUp: credentialBackedUp,
    };
    const outcome = await this.run(tenantId, { type: 'RegisterPasskey', userId, passkey, name: body.name, now: this.clock() });
    return outcome.accepted ? { ok: true } : { ok: false, reason: outcome.rejection.kind };
  }

  /**
   * Options for navigator.credentials.get() on interaction `uid`, with a sealed challenge (nothing
   * stored): the person's passkeys when they are known (the second step after a password), none
   * otherwise (a passwordless sign-in: the authenticator offers its discoverable credentials for
   * this RP).
   */
  async authenticationOptions(tenantId: string, uid: string, userId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const state = userId ? await this.state(tenantId, userId) : undefined;
    return this.requestOptions(this.signInChallenges.issue(tenantId, uid, userId), state?.passkeys ?? []);
  }

  /** The sign-in page's options, which it carries (its passkey autofill starts as it loads): for whoever's passkey answers. */
  signInPageOptions(tenantId: string, uid: string): PublicKeyCredentialRequestOptionsJSON {
    return this.requestOptions(this.signInChallenges.issue(tenantId, uid), []);
  }

  private requestOptions(challenge: string, passkeys: readonly StoredPasskey[]): PublicKeyCredentialRequestOptionsJSON {
    return {
      rpId: this.rp.id,
      challenge,
      timeout: CHALLENGE_TTL_S * 1000,
      userVerification: 'required',
      allowCredentials: passkeys.map((passkey) => ({
        id: passkey.credentialId,
        type: 'public-key',
        transports: [...passkey.transports] as AuthenticatorTransport[],
      })),
    };
  }

  /**
   * Verifies an assertion on interaction `uid`: it must answer a challenge issued there and still
   * live (one for whoever's passkey, or for `expectedUserId`), be signed by a passkey of
   * `expectedUserId` (the second step) or of the person its user handle names (passwordless), and
   * answer that challenge for the first time. `alongside` stores a passkey used in a write of the
   * caller's (the sign-in it completes), guarded as CommandRunner's storeWith is, or answers
   * undefined to have it appended on its own; a refusal is always appended on its own.
   */
  async authenticate(
    tenantId: string,
    uid: string,
    body: z.output<typeof passkeyAssertionBody>,
    expectedUserId?: string,
    alongside?: (userId: string, append: StreamAppend) => Promise<AppendResult | undefined>,
  ): Promise<PasskeyCheck> {
    // A challenge for one person answers for that person only; one for whoever's passkey (the sign-in page's,
    // say after a reload at the second step) answers for the person expected too.
    const signed = signedChallengeOf(body.response.response.clientDataJSON);
    const issued = signed === undefined ? undefined : this.signInChallenges.open(tenantId, uid, signed, expectedUserId);
    if (signed === undefined || !issued) return { ok: false, reason: 'no-challenge' };
    const { userHandle } = body.response.response;
    const named = userHandle === undefined ? undefined : Buffer.from(userHandle, 'base64url').toString('utf8');
    const userId = expectedUserId ?? named;
    if (!userId || (named !== undefined && named !== userId) || !z.uuid().safeParse(userId).success)
      return { ok: false, reason: 'unknown-passkey' };
    const known = await this.registeredPasskey(tenantId, userId, body.response.id);
    if (!known) return { ok: false, reason: 'unknown-passkey' };
    const verification = await this.verified('/response', () =>
      verifyAuthenticationResponse({
        response: body.response as AuthenticationResponseJSON,
        // The seal was checked above on the very string the library reads (clientDataJSON's challenge).
        expectedChallenge: sameChallenge(signed),
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        credential: { id: known.credentialId, publicKey: Buffer.from(known.publicKey, 'base64url'), counter: 0 },
        requireUserVerification: true,
      }),
    );
    const { newCounter, credentialBackedUp } = verification.authenticationInfo;
    const outcome = await this.run(
      tenantId,
      {
        type: 'UsePasskey',
        userId,
        credentialId: known.credentialId,
        signatureValid: verification.verified,
        counter: newCounter,
        backedUp: credentialBackedUp,
        challenge: { id: issued.id, until: issued.until.toISOString() },
        now: this.clock(),
      },
      alongside && storedAlongsideOn('PasskeyUsed', (append) => alongside(userId, append)),
    );
    if (!outcome.accepted)
      return { ok: false, reason: outcome.rejection.kind === 'ChallengeAnswered' ? 'no-challenge' : 'unknown-passkey' };
    const refused = outcome.events.find((event) => event.type === 'PasskeyRefused');
    if (refused?.type === 'PasskeyRefused')
      return { ok: false, reason: refused.data.reason === 'counter-regressed' ? 'cloned' : 'not-verified' };
    return { ok: true, userId };
  }

  /**
   * The passkey to verify an assertion with. A state this process remembers is taken as it is (no
   * read): the UsePasskey that follows is appended at the revision it was decided on, so a passkey
   * removed meanwhile by another replica fails that append, and the command decided again on the
   * stored state refuses it. A key never changes under its credential id. Only a passkey missing
   * from a remembered state (registered elsewhere since) costs a read.
   */
  private async registeredPasskey(tenantId: string, userId: string, credentialId: string) {
    const stream = factorsStreamFor(tenantId, userId);
    const of = (state: FactorsState) => state.passkeys.find((passkey) => passkey.credentialId === credentialId);
    const remembered = await this.commands.stateForCommand(stream, this.decider);
    const found = of(remembered.state);
    if (found || remembered.fresh) return found;
    return of((await this.commands.load(stream, this.decider)).state);
  }

  async remove(tenantId: string, userId: string, credentialId: string): Promise<boolean> {
    return (await this.run(tenantId, { type: 'RemovePasskey', userId, credentialId, now: this.clock() })).accepted;
  }

  /**
   * The library throws on an answer it cannot read or that was made for another challenge, origin
   * or RP: the client's fault, said as a 400 naming the field (the message names no secret).
   */
  private async verified<T>(pointer: string, verify: () => Promise<T>): Promise<T> {
    try {
      return await verify();
    } catch (error) {
      const message = error instanceof Error ? error.message.slice(0, 200) : 'does not verify';
      throw new RequestValidationError([{ pointer, message }]);
    }
  }

  private run(tenantId: string, command: FactorsCommand, storeWith?: FactorsStoreWith) {
    return this.commands.handle<FactorsCommand, FactorEvent, FactorsState, FactorsRejection>({
      streamName: factorsStreamFor(tenantId, command.userId),
      decider: this.decider,
      command,
      context: { tenantId, correlationId: randomUUID(), now: this.clock() },
      retriesOnConflict: 2,
      storeWith,
    });
  }
}
