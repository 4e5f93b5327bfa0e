import fc from 'fast-check';
import { generateSecret, generateSync } from 'otplib';
import { given } from '#cqrs/testing';
import { factorsDecider } from './factors.decider';
import {
  RecoveryCodesIssued,
  SecondFactorFailed,
  SecondFactorLocked,
  SecondFactorVerified,
  TotpEnrolled,
  TotpEnrolmentStarted,
  TotpRemoved,
  SecondFactorsReset,
} from './factors.events';
import { recoveryCodeHash, totpStepOf } from './totp';

const userId = '0193c2a0-0000-7000-8000-000000000001';
const secret = generateSecret();
const now = new Date('2026-12-06T08:00:10.000Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const at = (time: Date) => time.toISOString();
/** The code an authenticator app shows at `time` (otplib, not the code under test). */
const codeAt = (time: Date) => generateSync({ secret, epoch: Math.floor(time.getTime() / 1000) });
const stepAt = (time: Date) => Math.floor(time.getTime() / 30_000);
const policy = { threshold: 3, windowMs: 15 * 60_000, cooldownMs: 15 * 60_000 };
const decider = factorsDecider(policy);

const started = TotpEnrolmentStarted({ userId, secret, at: at(now) });
const recovery = ['abcde-fghij', 'klmno-pqrst'];
const hashes = recovery.map(recoveryCodeHash);
const enrolled = [
  started,
  TotpEnrolled({ userId, at: at(now) }),
  RecoveryCodesIssued({ userId, codeHashes: hashes, at: at(now) }),
  SecondFactorVerified({ userId, method: 'totp', step: stepAt(now), at: at(now) }),
];

describe('second factors', () => {
  test('an authenticator counts once a code from it confirms the enrolment; recovery codes are issued with it', () => {
    given(decider, []).when({ type: 'StartTotpEnrolment', userId, secret, now }).then([started]);
    given(decider, [started])
      .when({ type: 'ConfirmTotp', userId, code: codeAt(now), recoveryCodeHashes: hashes, now })
      .then(enrolled.slice(1));
    given(decider, [started])
      .when({ type: 'ConfirmTotp', userId, code: codeAt(later(5 * 60_000)), recoveryCodeHashes: hashes, now })
      .thenRejects({ kind: 'WrongCode' });
    given(decider, []).when({ type: 'ConfirmTotp', userId, code: '000000', recoveryCodeHashes: hashes, now }).thenRejects({
      kind: 'NothingToConfirm',
    });
    given(decider, enrolled).when({ type: 'StartTotpEnrolment', userId, secret, now }).thenRejects({ kind: 'AlreadyEnrolled' });
  });

  test('a code of the current step, or of the step either side (clock drift), verifies; and only once', () => {
    const next = later(30_000);
    given(decider, enrolled)
      .when({ type: 'VerifySecondFactor', userId, code: codeAt(next), now: next })
      .then([SecondFactorVerified({ userId, method: 'totp', step: stepAt(next), at: at(next) })]);
    const drifted = later(60_000);
    given(decider, enrolled)
      .when({ type: 'VerifySecondFactor', userId, code: codeAt(later(90_000)), now: drifted })
      .then([SecondFactorVerified({ userId, method: 'totp', step: stepAt(later(90_000)), at: at(drifted) })]);
    // The code that confirmed the enrolment was used: replayed in the same step, it is a wrong code.
    given(decider, enrolled)
      .when({ type: 'VerifySecondFactor', userId, code: codeAt(now), now: later(1000) })
      .then([SecondFactorFailed({ userId, at: at(later(1000)) })]);
    given(decider, enrolled)
      .when({ type: 'VerifySecondFactor', userId, code: codeAt(later(120_000)), now })
      .then([SecondFactorFailed({ userId, at: at(now) })]);
  });

  test('a recovery code works once, typed in any case and with or without its dash', () => {
    const used = SecondFactorVerified({ userId, method: 'recovery-code', codeHash: hashes[0], at: at(now) });
    given(decider, enrolled).when({ type: 'VerifySecondFactor', userId, code: ' ABCDEFGHIJ ', now }).then([used]);
    given(decider, [...enrolled, used])
      .when({ type: 'VerifySecondFactor', userId, code: 'abcde-fghij', now })
      .then([SecondFactorFailed({ userId, at: at(now) })]);
    given(decider, [...enrolled, used])
      .when({ type: 'VerifySecondFactor', userId, code: 'klmno-pqrst', now })
      .then([SecondFactorVerified({ userId, method: 'recovery-code', codeHash: hashes[1], at: at(now) })]);
  });

  test('wrong codes lock the factor for the cool-down, the right code included; a success in between starts the count again', () => {
    const failed = (time: Date) => SecondFactorFailed({ userId, at: at(time) });
    const twoWrong = [...enrolled, failed(later(1000)), failed(later(2000))];
    const third = later(3000);
    const lockedUntil = at(new Date(third.getTime() + policy.cooldownMs));
    given(decider, twoWrong)
      .when({ type: 'VerifySecondFactor', userId, code: '000000', now: third })
      .then([failed(third), SecondFactorLocked({ userId, failures: 3, lockedUntil, at: at(third) })]);
    const locked = [...twoWrong, failed(third), SecondFactorLocked({ userId, failures: 3, lockedUntil, at: at(third) })];
    const soon = later(60_000);
    given(decider, locked)
      .when({ type: 'VerifySecondFactor', userId, code: codeAt(soon), now: soon })
      .thenRejects({
        kind: 'Locked',
        until: lockedUntil,
      });
    const after = new Date(Date.parse(lockedUntil) + 1000);
    given(decider, locked)
      .when({ type: 'VerifySecondFactor', userId, code: codeAt(after), now: after })
      .then([SecondFactorVerified({ userId, method: 'totp', step: stepAt(after), at: at(after) })]);
    const success = SecondFactorVerified({ userId, method: 'recovery-code', codeHash: hashes[0], at: at(later(2500)) });
    given(decider, [...twoWrong, success])
      .when({ type: 'VerifySecondFactor', userId, code: '000000', now: third })
      .then([failed(third)]);
  });

  test('removing the authenticator takes a current code; its recovery codes go with it', () => {
    const next = later(30_000);
    const removed = [
      SecondFactorVerified({ userId, method: 'totp', step: stepAt(next), at: at(next) }),
      TotpRemoved({ userId, at: at(next) }),
    ];
    given(decider, enrolled)
      .when({ type: 'RemoveTotp', userId, code: codeAt(next), now: next })
      .then(removed);
    given(decider, enrolled)
      .when({ type: 'RemoveTotp', userId, code: '123456', now: next })
      .then([SecondFactorFailed({ userId, at: at(next) })]);
    given(decider, [...enrolled, ...removed])
      .when({ type: 'VerifySecondFactor', userId, code: 'klmno-pqrst', now: next })
      .thenRejects({ kind: 'NotEnrolled' });
  });

  test('an operator’s reset removes every factor, a lock included, and is recorded; with nothing to remove it records nothing', () => {
    const locked = [...enrolled, SecondFactorLocked({ userId, failures: 3, lockedUntil: at(later(900_000)), at: at(now) })];
    const reset = SecondFactorsReset({ userId, by: 'admin', at: at(later(1000)) });
    given(decider, locked)
      .when({ type: 'ResetFactors', userId, now: later(1000) })
      .then([reset]);
    given(decider, [...locked, reset])
      .when({ type: 'StartTotpEnrolment', userId, secret, now: later(2000) })
      .then([TotpEnrolmentStarted({ userId, secret, at: at(later(2000)) })]);
    given(decider, [...locked, reset])
      .when({ type: 'VerifySecondFactor', userId, code: 'klmno-pqrst', now: later(2000) })
      .thenRejects({
        kind: 'NotEnrolled',
      });
    given(decider, []).when({ type: 'ResetFactors', userId, now }).thenNothingHappens();
  });

  test('no typed string verifies but a code of the secret or an unused recovery code, and none throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (typed) => {
        const valid = new Set([codeAt(now), codeAt(later(-30_000)), codeAt(later(30_000))]);
        fc.pre(!valid.has(typed.replace(/\s/g, '')) && !hashes.includes(recoveryCodeHash(typed)));
        expect(totpStepOf(secret, typed, now)).toBeUndefined();
        const decision = decider.decide({ type: 'VerifySecondFactor', userId, code: typed, now: later(5000) }, enrolledState());
        expect(decision.accepted && decision.events[0]?.type).toBe('SecondFactorFailed');
      }),
    );
  });
});

function enrolledState() {
  return enrolled.reduce(decider.evolve, decider.initialState());
}
