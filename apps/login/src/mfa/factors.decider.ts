import { accept, reject, type Decider, type Decision } from '#cqrs';
import type { LockoutPolicy } from '../sign-in/lockout.decider';
import {
  PasskeyRefused,
  PasskeyRegistered,
  PasskeyRemoved,
  PasskeyUsed,
  RecoveryCodesIssued,
  SecondFactorFailed,
  SecondFactorLocked,
  SecondFactorVerified,
  TotpEnrolled,
  TotpEnrolmentStarted,
  TotpRemoved,
  SecondFactorsReset,
  type AnsweredChallenge,
  type FactorEvent,
} from './factors.events';
import { recoveryCodeHash, totpStepOf } from './totp';

/** A registered passkey as sign-in verifies it and the account page lists it (times in epoch milliseconds). */
export interface StoredPasskey {
  readonly credentialId: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  readonly counter: number;
  readonly transports: readonly string[];
  readonly backedUp: boolean;
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

/** What a verified registration brings: the credential, as the authenticator described it. */
export type NewPasskey = Pick<StoredPasskey, 'credentialId' | 'publicKey' | 'counter' | 'transports' | 'backedUp'>;

/** More than anyone needs (phones, laptops, keys); a bound on what one stream and one page hold. */
export const MAX_PASSKEYS = 20;

/** What login keeps of one person's second factors (times in epoch milliseconds). */
export interface FactorsState {
  /** A secret shown for enrolment, not yet confirmed by a code. */
  readonly pendingSecret: string | null;
  /** The confirmed authenticator: its secret and the last time step used (a code works once). */
  readonly totp: { readonly secret: string; readonly lastStep: number } | null;
  readonly recoveryCodeHashes: readonly string[];
  /** Wrong codes since the last success or lock-out. */
  readonly failures: readonly number[];
  readonly lockedUntil: number | null;
  readonly passkeys: readonly StoredPasskey[];
  /** Sign-in challenges a passkey of this person answered, until they expire (epoch milliseconds): each answers once. */
  readonly answeredChallenges: readonly { readonly id: string; readonly until: number }[];
}

export type FactorsCommand =
  | { readonly type: 'StartTotpEnrolment'; readonly userId: string; readonly secret: string; readonly now: Date }
  | {
      readonly type: 'ConfirmTotp';
      readonly userId: string;
      readonly code: string;
      /** Hashes of the recovery codes the page will show once, issued with the enrolment. */
      readonly recoveryCodeHashes: readonly string[];
      readonly now: Date;
    }
  | { readonly type: 'VerifySecondFactor'; readonly userId: string; readonly code: string; readonly now: Date }
  | { readonly type: 'RemoveTotp'; readonly userId: string; readonly code: string; readonly now: Date }
  | { readonly type: 'ResetFactors'; readonly userId: string; readonly now: Date }
  | { readonly type: 'RegisterPasskey'; readonly userId: string; readonly passkey: NewPasskey; readonly name: string; readonly now: Date }
  | {
      readonly type: 'UsePasskey';
      readonly userId: string;
      readonly credentialId: string;
      /** Whether the assertion's signature verified under the stored key (checked at the edge, before deciding). */
      readonly signatureValid: boolean;
      /** The assertion's signature count and backup state. */
      readonly counter: number;
      readonly backedUp: boolean;
      /** The sign-in challenge the assertion answered. */
      readonly challenge: AnsweredChallenge;
      readonly now: Date;
    }
  | { readonly type: 'RemovePasskey'; readonly userId: string; readonly credentialId: string; readonly now: Date };

export type FactorsRejection =
  | { readonly kind: 'AlreadyEnrolled' }
  | { readonly kind: 'NothingToConfirm' }
  | { readonly kind: 'WrongCode' }
  | { readonly kind: 'NotEnrolled' }
  | { readonly kind: 'Locked'; readonly until: string }
  | { readonly kind: 'PasskeyAlreadyRegistered' }
  | { readonly kind: 'TooManyPasskeys' }
  | { readonly kind: 'UnknownPasskey' }
  | { readonly kind: 'ChallengeAnswered' };

const initialState = (): FactorsState => ({
  pendingSecret: null,
  totp: null,
  recoveryCodeHashes: [],
  failures: [],
  lockedUntil: null,
  passkeys: [],
  answeredChallenges: [],
});

function evolve(state: FactorsState, event: FactorEvent): FactorsState {
  switch (event.type) {
    case 'TotpEnrolmentStarted':
      return { ...state, pendingSecret: event.data.secret };
    case 'TotpEnrolled':
      return state.pendingSecret ? { ...state, totp: { secret: state.pendingSecret, lastStep: -1 }, pendingSecret: null } : state;
    case 'RecoveryCodesIssued':
      return { ...state, recoveryCodeHashes: event.data.codeHashes };
    case 'TotpRemoved':
      return { ...state, totp: null, pendingSecret: null, recoveryCodeHashes: [] };
    case 'SecondFactorsReset':
      return initialState();
    case 'SecondFactorVerified': {
      const { step, codeHash } = event.data;
      return {
        ...state,
        failures: [],
        totp: state.totp && step !== undefined ? { ...state.totp, lastStep: Math.max(state.totp.lastStep, step) } : state.totp,
        recoveryCodeHashes: codeHash ? state.recoveryCodeHashes.filter((hash) => hash !== codeHash) : state.recoveryCodeHashes,
      };
    }
    case 'SecondFactorFailed':
      return { ...state, failures: [...state.failures, Date.parse(event.data.at)] };
    case 'SecondFactorLocked':
      return { ...state, failures: [], lockedUntil: Date.parse(event.data.lockedUntil) };
    case 'PasskeyRegistered': {
      const { userId: _user, at, ...passkey } = event.data;
      return { ...state, passkeys: [...state.passkeys, { ...passkey, createdAt: Date.parse(at), lastUsedAt: null }] };
    }
    case 'PasskeyUsed': {
      const { credentialId, counter, backedUp, at } = event.data;
      const used = (passkey: StoredPasskey) =>
        passkey.credentialId === credentialId ? { ...passkey, counter, backedUp, lastUsedAt: Date.parse(at) } : passkey;
      return { ...state, passkeys: state.passkeys.map(used), answeredChallenges: answered(state, event.data) };
    }
    case 'PasskeyRefused':
      return { ...state, answeredChallenges: answered(state, event.data) };
    case 'PasskeyRemoved':
      return { ...state, passkeys: state.passkeys.filter((passkey) => passkey.credentialId !== event.data.credentialId) };
  }
}

/**
 * The rules of a person's second factors: enrolment confirmed by a code before it counts, each
 * TOTP code and each recovery code used once, wrong codes counted and locking the factor for a
 * cool-down like wrong passwords do. Codes are checked here (HMAC over the secret the state holds
 * and the time on the command): nothing but the command and the state decides.
 */
export function factorsDecider(policy: LockoutPolicy): Decider<FactorsCommand, FactorEvent, FactorsState, FactorsRejection> {
  return {
    initialState,
    evolve,
    decide(command, state): Decision<FactorEvent, FactorsRejection> {
      const { userId, now } = command;
      const at = now.toISOString();
      switch (command.type) {
        case 'StartTotpEnrolment':
          if (state.totp) return reject({ kind: 'AlreadyEnrolled' });
          return accept(TotpEnrolmentStarted({ userId, secret: command.secret, at }));
        case 'ConfirmTotp': {
          if (state.totp) return reject({ kind: 'AlreadyEnrolled' });
          if (!state.pendingSecret) return reject({ kind: 'NothingToConfirm' });
          const step = totpStepOf(state.pendingSecret, command.code, now);
          if (step === undefined) return reject({ kind: 'WrongCode' });
          return accept(
            TotpEnrolled({ userId, at }),
            RecoveryCodesIssued({ userId, codeHashes: [...command.recoveryCodeHashes], at }),
            SecondFactorVerified({ userId, method: 'totp', step, at }),
          );
        }
        case 'ResetFactors':
          if (!state.totp && !state.pendingSecret && state.passkeys.length === 0) return accept();
          return accept(SecondFactorsReset({ userId, by: 'admin', at }));
        case 'VerifySecondFactor':
        case 'RemoveTotp': {
          if (!state.totp) return reject({ kind: 'NotEnrolled' });
          if (state.lockedUntil !== null && state.lockedUntil > now.getTime())
            return reject({ kind: 'Locked', until: new Date(state.lockedUntil).toISOString() });
          const verified = verification(state, userId, command.code, now);
          if (!verified) return accept(...failure(state, userId, now, policy));
          return command.type === 'RemoveTotp' ? accept(verified, TotpRemoved({ userId, at })) : accept(verified);
        }
        case 'RegisterPasskey':
        case 'UsePasskey':
        case 'RemovePasskey':
          return decidePasskey(command, state, at);
      }
    },
  };
}

function verification(state: FactorsState, userId: string, code: string, now: Date) {
  const at = now.toISOString();
  const step = state.totp ? totpStepOf(state.totp.secret, code.replace(/\s/g, ''), now) : undefined;
  if (step !== undefined && state.totp && step > state.totp.lastStep) return SecondFactorVerified({ userId, method: 'totp', step, at });
  const codeHash = recoveryCodeHash(code);
  if (state.recoveryCodeHashes.includes(codeHash)) return SecondFactorVerified({ userId, method: 'recovery-code', codeHash, at });
  return undefined;
}

function failure(state: FactorsState, userId: string, now: Date, policy: LockoutPolicy): FactorEvent[] {
  const at = now.toISOString();
  const recent = state.failures.filter((failed) => failed > now.getTime() - policy.windowMs).length + 1;
  const failed = SecondFactorFailed({ userId, at });
  if (recent < policy.threshold) return [failed];
  const lockedUntil = new Date(now.getTime() + policy.cooldownMs).toISOString();
  return [failed, SecondFactorLocked({ userId, failures: recent, lockedUntil, at })];
}

/** The challenges still live when `answer` was recorded, with its own: what is past its expiry can answer nothing anyway. */
function answered(state: FactorsState, answer: { challenge?: AnsweredChallenge; at: string }): FactorsState['answeredChallenges'] {
  const at = Date.parse(answer.at);
  const live = state.answeredChallenges.filter((challenge) => challenge.until > at);
  return answer.challenge ? [...live, { id: answer.challenge.id, until: Date.parse(answer.challenge.until) }] : live;
}

/**
 * A sign-in challenge answers once (a replayed or doubly posted assertion is refused, however it
 * verifies); a credential id is registered once on a person's factors; a signature verifies only under a
 * passkey still registered; and its signature count must move forward, unless the authenticator
 * keeps none (0 on both sides, as synced passkeys do): a count that stands still or goes back
 * means a second copy of the private key, so the sign-in is refused and the refusal recorded.
 */
function decidePasskey(
  command: Extract<FactorsCommand, { type: 'RegisterPasskey' | 'UsePasskey' | 'RemovePasskey' }>,
  state: FactorsState,
  at: string,
): Decision<FactorEvent, FactorsRejection> {
  const { userId } = command;
  const credentialId = command.type === 'RegisterPasskey' ? command.passkey.credentialId : command.credentialId;
  const known = state.passkeys.find((passkey) => passkey.credentialId === credentialId);
  switch (command.type) {
    case 'RegisterPasskey': {
      if (known) return reject({ kind: 'PasskeyAlreadyRegistered' });
      if (state.passkeys.length >= MAX_PASSKEYS) return reject({ kind: 'TooManyPasskeys' });
      const { passkey, name } = command;
      return accept(PasskeyRegistered({ userId, ...passkey, transports: [...passkey.transports], name, at }));
    }
    case 'UsePasskey': {
      if (!known) return reject({ kind: 'UnknownPasskey' });
      const { counter, backedUp, challenge } = command;
      if (state.answeredChallenges.some((answeredBefore) => answeredBefore.id === challenge.id))
        return reject({ kind: 'ChallengeAnswered' });
      if (!command.signatureValid)
        return accept(PasskeyRefused({ userId, credentialId, reason: 'signature-invalid', counter, challenge, at }));
      if ((counter > 0 || known.counter > 0) && counter <= known.counter)
        return accept(PasskeyRefused({ userId, credentialId, reason: 'counter-regressed', counter, challenge, at }));
      return accept(PasskeyUsed({ userId, credentialId, counter, backedUp, challenge, at }));
    }
    case 'RemovePasskey':
      if (!known) return reject({ kind: 'UnknownPasskey' });
      return accept(PasskeyRemoved({ userId, credentialId, at }));
  }
}

/** Whether the person has a confirmed second factor, so sign-in asks for it. */
export const hasSecondFactor = (state: FactorsState): boolean => state.totp !== null || state.passkeys.length > 0;
