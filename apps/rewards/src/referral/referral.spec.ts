import { given } from '#cqrs/testing';
import type { ReferralPolicy } from '../program/program.events';
import { referralDecider, type ReferralCommand } from './referral.decider';
import { ReferralCodeIssued, ReferralQualified, ReferralRefused } from './referral.events';

const now = new Date('2026-06-01T10:00:00.000Z');
const at = now.toISOString();
const policy: ReferralPolicy = { qualifyingEvent: 'Order Completed', referrerPoints: 100, refereePoints: 50, maxPerReferrer: 2 };
const issued = ReferralCodeIssued({ code: 'RABCDEFGHJ', referrer: 'ann', issuedAt: at });
const qualify = (referee: string, options: Partial<Extract<ReferralCommand, { type: 'Qualify' }>> = {}): ReferralCommand => ({
  type: 'Qualify',
  referee,
  sourceId: `track:${referee}`,
  referrerEmail: 'idx-ann',
  refereeEmail: `idx-${referee}`,
  refereeReferredBefore: false,
  policy,
  now,
  ...options,
});
const qualified = (referee: string) =>
  ReferralQualified({
    code: 'RABCDEFGHJ',
    referralId: `RABCDEFGHJ/${referee}`,
    referrer: 'ann',
    referee,
    sourceId: `track:${referee}`,
    referrerPoints: 100,
    refereePoints: 50,
    qualifiedAt: at,
  });
const refused = (referee: string, reason: ReturnType<typeof ReferralRefused>['data']['reason']) =>
  ReferralRefused({ code: 'RABCDEFGHJ', referee, sourceId: `track:${referee}`, reason, refusedAt: at });

describe('referral codes', () => {
  test('a code belongs to the member it was issued for; asking again changes nothing; nobody else takes it', () => {
    given(referralDecider, []).when({ type: 'Issue', code: 'RABCDEFGHJ', referrer: 'ann', now }).then([issued]);
    given(referralDecider, [issued]).when({ type: 'Issue', code: 'RABCDEFGHJ', referrer: 'ann', now }).then([]);
    given(referralDecider, [issued]).when({ type: 'Issue', code: 'RABCDEFGHJ', referrer: 'bob', now }).thenRejects({ kind: 'CodeTaken' });
  });

  test('a code nobody was issued refers nobody', () => {
    given(referralDecider, []).when(qualify('bob')).thenRejects({ kind: 'UnknownCode' });
  });
});

describe('referrals', () => {
  test("a referee's qualifying event rewards both sides, once", () => {
    given(referralDecider, [issued])
      .when(qualify('bob'))
      .then([qualified('bob')]);
    given(referralDecider, [issued, qualified('bob')])
      .when(qualify('bob', { sourceId: 'track:again' }))
      .then([]);
  });

  test('self-referral by the same member id is refused, and recorded once', () => {
    given(referralDecider, [issued])
      .when(qualify('ann'))
      .then([refused('ann', 'self-referral')]);
    given(referralDecider, [issued, refused('ann', 'self-referral')])
      .when(qualify('ann'))
      .then([]);
  });

  test("self-referral under another id with the referrer's e-mail (same blind index) is refused", () => {
    given(referralDecider, [issued])
      .when(qualify('ann-2', { refereeEmail: 'idx-ann' }))
      .then([refused('ann-2', 'same-email')]);
    // Unknown addresses (a member who never signed up in register) are no match.
    given(referralDecider, [issued])
      .when(qualify('carl', { referrerEmail: null, refereeEmail: null }))
      .then([qualified('carl')]);
  });

  test('a member rewarded as a referee before (through another code) is not rewarded again', () => {
    given(referralDecider, [issued])
      .when(qualify('bob', { refereeReferredBefore: true }))
      .then([refused('bob', 'already-referred')]);
  });

  test('a referrer is rewarded for maxPerReferrer referees at most', () => {
    given(referralDecider, [issued, qualified('bob'), qualified('carl')])
      .when(qualify('dora'))
      .then([refused('dora', 'referrer-limit-reached')]);
  });
});
