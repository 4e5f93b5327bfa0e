import { given } from '#cqrs/testing';
import { walletDecider } from './wallet.decider';
import { EnrolmentConsentRecorded, MemberEnrolled, MemberErased } from './wallet.events';

const now = new Date('2026-06-01T10:00:00.000Z');
const at = now.toISOString();
const enrol = { type: 'EnrolWithConsent', userId: 'u', channel: 'web-form', now } as const;
const consent = EnrolmentConsentRecorded({ userId: 'u', consent: true, channel: 'web-form', recordedAt: at });

describe('explicit enrolment', () => {
  test('a newcomer is enrolled with their consent recorded', () => {
    given(walletDecider, [])
      .when(enrol)
      .then([MemberEnrolled({ userId: 'u', enrolledAt: at }), consent]);
  });

  test('a member enrolled by earning gets their consent recorded, and is not enrolled twice', () => {
    given(walletDecider, [MemberEnrolled({ userId: 'u', enrolledAt: '2026-01-01T00:00:00.000Z' })])
      .when(enrol)
      .then([consent]);
  });

  test('enrolling again changes nothing: the first consent stands', () => {
    given(walletDecider, [MemberEnrolled({ userId: 'u', enrolledAt: at }), consent])
      .when({ ...enrol, channel: 'till' })
      .then([]);
  });

  test('an erased member cannot be enrolled again under the same id', () => {
    given(walletDecider, [MemberEnrolled({ userId: 'u', enrolledAt: at }), MemberErased({ userId: 'u', erasedAt: at })])
      .when(enrol)
      .thenRejects({ kind: 'UnknownMember' });
  });
});
