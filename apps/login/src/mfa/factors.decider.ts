import { accept, reject, type Decider, type Decision } from '#cqrs';
import type { LockoutPolicy } from '../sign-in/lockout.decider';
import {
  RecoveryCodesIssued,
  SecondFactorFailed,
  SecondFactorLocked,
  SecondFactorVerified,
  TotpEnrolled,
  TotpEnrolmentStarted,
  TotpRemoved,
  SecondFactorsReset,
  type FactorEvent,
} from './factors.events';
import { recoveryCodeHash, totpStepOf } from './totp';

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
  | { readonly type: 'ResetFactors'; readonly userId: string; readonly now: Date };

export type FactorsRejection =
  | { readonly kind: 'AlreadyEnrolled' }
  | { readonly kind: 'NothingToConfirm' }
  | { readonly kind: 'WrongCode' }
  | { readonly kind: 'NotEnrolled' }
  | { readonly kind: 'Locked'; readonly until: string };

const initialState = (): FactorsState => ({ pendingSecret: null, totp: null, recoveryCodeHashes: [], failures: [], lockedUntil: null });

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
          if (!state.totp && !state.pendingSecret) return accept();
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

/** Whether the person has a confirmed second factor, so sign-in asks for it. */
export const hasSecondFactor = (state: FactorsState): boolean => state.totp !== null;
