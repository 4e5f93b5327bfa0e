import { accept, reject, type Decider } from '#cqrs';
import type { ReferralPolicy } from '../program/program.events';
import { ReferralCodeIssued, ReferralQualified, ReferralRefused, type ReferralEvent } from './referral.events';

export interface ReferralState {
  readonly code: string | null;
  readonly referrer: string | null;
  /** Referees rewarded so far, and those refused (a refusal is final for that referee). */
  readonly referees: ReadonlySet<string>;
  readonly refused: ReadonlySet<string>;
  readonly rewarded: number;
}

export type ReferralCommand =
  | { readonly type: 'Issue'; readonly code: string; readonly referrer: string; readonly now: Date }
  | {
      readonly type: 'Qualify';
      readonly referee: string;
      readonly sourceId: string;
      /** Blind indexes of both sides' e-mail addresses (register's), where known. */
      readonly referrerEmail: string | null;
      readonly refereeEmail: string | null;
      /** The referee was rewarded as a referee before (through another code). */
      readonly refereeReferredBefore: boolean;
      readonly policy: ReferralPolicy;
      readonly now: Date;
    };

export type ReferralRejection = { readonly kind: 'CodeTaken' } | { readonly kind: 'UnknownCode' };

/**
 * One referral code's stream: who it belongs to and whom it referred. A referee's qualifying event
 * rewards both sides once: never the referrer themselves (same member id, or the same e-mail
 * address by register's blind index), never a referee rewarded before (through this or another
 * code), and never past the program's `maxPerReferrer`. A refusal is recorded, once per referee.
 */
export const referralDecider: Decider<ReferralCommand, ReferralEvent, ReferralState, ReferralRejection> = {
  initialState: () => ({ code: null, referrer: null, referees: new Set(), refused: new Set(), rewarded: 0 }),
  evolve(state, event) {
    switch (event.type) {
      case 'ReferralCodeIssued':
        return { ...state, code: event.data.code, referrer: event.data.referrer };
      case 'ReferralQualified':
        return { ...state, referees: new Set([...state.referees, event.data.referee]), rewarded: state.rewarded + 1 };
      case 'ReferralRefused':
        return { ...state, refused: new Set([...state.refused, event.data.referee]) };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (command.type === 'Issue') {
      if (state.referrer === null)
        return accept(ReferralCodeIssued({ code: command.code, referrer: command.referrer, issuedAt: command.now.toISOString() }));
      return state.referrer === command.referrer ? accept() : reject({ kind: 'CodeTaken' });
    }
    if (state.referrer === null || state.code === null) return reject({ kind: 'UnknownCode' });
    const { referee, sourceId, policy, now } = command;
    if (state.referees.has(referee) || state.refused.has(referee)) return accept();
    const code = state.code;
    const refuse = (reason: ReturnType<typeof ReferralRefused>['data']['reason']) =>
      accept(ReferralRefused({ code, referee, sourceId, reason, refusedAt: now.toISOString() }));
    if (referee === state.referrer) return refuse('self-referral');
    if (command.referrerEmail !== null && command.referrerEmail === command.refereeEmail) return refuse('same-email');
    if (command.refereeReferredBefore) return refuse('already-referred');
    if (state.rewarded >= policy.maxPerReferrer) return refuse('referrer-limit-reached');
    return accept(
      ReferralQualified({
        code,
        referralId: `${code}/${referee}`,
        referrer: state.referrer,
        referee,
        sourceId,
        referrerPoints: policy.referrerPoints,
        refereePoints: policy.refereePoints,
        qualifiedAt: now.toISOString(),
      }),
    );
  },
};
