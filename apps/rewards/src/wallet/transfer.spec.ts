import { given } from '#cqrs/testing';
import type { ProgramDefinition, TransferPolicy } from '../program/program.events';
import type { TransferIn, TransferOut } from './transfer';
import { walletDecider } from './wallet.decider';
import {
  MemberEnrolled,
  MemberErased,
  OwedPointsRepaid,
  PointsClawedBack,
  PointsEarned,
  PointsTransferredIn,
  PointsTransferredOut,
} from './wallet.events';

const userId = 'alice';
const now = new Date('2026-06-01T10:00:00.000Z');
const at = now.toISOString();
const enrolled = MemberEnrolled({ userId, enrolledAt: '2026-01-01T00:00:00.000Z' });
const lot = (lotId: string, points: number, expiresAt: string | null) =>
  PointsEarned({
    userId,
    lotId,
    points,
    sourceEventId: lotId,
    ruleId: 'r',
    earnedAt: '2026-05-01T00:00:00.000Z',
    expiresAt,
    orderId: null,
    orderAmount: null,
  });

const policy: TransferPolicy = { maxPointsPerTransfer: 500, maxPointsPerDay: 600, minBalanceAfter: 10 };
const program = (transfers: TransferPolicy | null): ProgramDefinition => ({
  rules: [],
  tiers: null,
  expiry: null,
  limits: {},
  refunds: { allowNegativeBalance: false },
  ...(transfers ? { transfers } : {}),
});
const send = (
  points: number,
  options: { transferId?: string; to?: string; fingerprint?: string; transfers?: TransferPolicy | null } = {},
): TransferOut => ({
  type: 'TransferOut',
  userId,
  transferId: options.transferId ?? 't1',
  to: options.to ?? 'bob',
  points,
  fingerprint: options.fingerprint ?? `fp-${points}`,
  program: program(options.transfers === undefined ? policy : options.transfers),
  now,
});
const sent = (points: number, lots: { lotId: string; points: number }[], expiresAt: string | null, transferId = 't1') =>
  PointsTransferredOut({ userId, transferId, to: 'bob', points, lots, expiresAt, fingerprint: `fp-${points}`, transferredAt: at });

describe('transfers: the sender', () => {
  const soon = '2026-07-01T00:00:00.000Z';
  const later = '2026-12-01T00:00:00.000Z';
  const wallet = [enrolled, lot('late', 300, later), lot('early', 100, soon)];

  test('points leave from the lots that expire first, and the transfer expires when the soonest of them would', () => {
    given(walletDecider, wallet)
      .when(send(150))
      .then([
        sent(
          150,
          [
            { lotId: 'early', points: 100 },
            { lotId: 'late', points: 50 },
          ],
          soon,
        ),
      ]);
  });

  test('a program without a transfers policy allows none', () => {
    given(walletDecider, wallet)
      .when(send(10, { transfers: null }))
      .thenRejects({ kind: 'TransfersDisabled' });
  });

  test('nobody transfers to themselves', () => {
    given(walletDecider, wallet)
      .when(send(10, { to: userId }))
      .thenRejects({ kind: 'SelfTransfer' });
  });

  test('one transfer moves at most maxPointsPerTransfer', () => {
    given(walletDecider, wallet).when(send(501)).thenRejects({ kind: 'TransferLimitExceeded', per: 'transfer', limit: 500 });
  });

  test('the sender keeps minBalanceAfter: 400 held, 390 may go, 391 may not', () => {
    given(walletDecider, wallet).when(send(391)).thenRejects({ kind: 'InsufficientPoints', available: 400, requested: 401 });
    given(walletDecider, wallet)
      .when(send(390))
      .then([
        sent(
          390,
          [
            { lotId: 'early', points: 100 },
            { lotId: 'late', points: 290 },
          ],
          soon,
        ),
      ]);
  });

  test('what a member sends per UTC day together stays within maxPointsPerDay', () => {
    const rich = [enrolled, lot('big', 5000, null)];
    const first = PointsTransferredOut({
      userId,
      transferId: 't0',
      to: 'carol',
      points: 500,
      lots: [{ lotId: 'big', points: 500 }],
      expiresAt: null,
      fingerprint: 'x',
      transferredAt: '2026-06-01T01:00:00.000Z',
    });
    given(walletDecider, [...rich, first])
      .when(send(101))
      .thenRejects({ kind: 'TransferLimitExceeded', per: 'day', limit: 600, used: 500 });
    given(walletDecider, [...rich, first])
      .when(send(100))
      .then([sent(100, [{ lotId: 'big', points: 100 }], null)]);
  });

  test('the same transfer again changes nothing; its key with another body is refused', () => {
    const done = sent(
      150,
      [
        { lotId: 'early', points: 100 },
        { lotId: 'late', points: 50 },
      ],
      soon,
    );
    given(walletDecider, [...wallet, done])
      .when(send(150))
      .then([]);
    given(walletDecider, [...wallet, done])
      .when(send(150, { fingerprint: 'other' }))
      .thenRejects({ kind: 'IdempotencyKeyReused' });
  });

  test('a member who owes points, or an erased one, sends nothing', () => {
    const owing = PointsClawedBack({
      userId,
      refundId: 'r1',
      orderId: 'o1',
      cause: 'refund',
      amount: null,
      points: 420,
      expired: 0,
      lots: [
        { lotId: 'early', points: 100 },
        { lotId: 'late', points: 300 },
      ],
      owed: 20,
      shortfall: 0,
      fingerprint: 'f',
      clawedBackAt: at,
    });
    given(walletDecider, [...wallet, owing])
      .when(send(1))
      .thenRejects({ kind: 'InsufficientPoints' });
    given(walletDecider, [...wallet, MemberErased({ userId, erasedAt: at })])
      .when(send(1))
      .thenRejects({ kind: 'UnknownMember' });
  });
});

describe('transfers: the recipient', () => {
  const receive = (options: { returned?: boolean } = {}): TransferIn => ({
    type: 'TransferIn',
    userId,
    transferId: 't9',
    from: 'zoe',
    points: 40,
    expiresAt: '2026-07-01T00:00:00.000Z',
    returned: options.returned ?? false,
    now,
  });
  const credited = PointsTransferredIn({
    userId,
    transferId: 't9',
    from: 'zoe',
    points: 40,
    lotId: 'transfer/t9',
    expiresAt: '2026-07-01T00:00:00.000Z',
    returned: false,
    receivedAt: at,
  });

  test('gets one lot, once however often the transfer is delivered', () => {
    given(walletDecider, [enrolled]).when(receive()).then([credited]);
    given(walletDecider, [enrolled, credited]).when(receive()).then([]);
  });

  test('a returned transfer is a lot of its own, beside the one it would have been', () => {
    given(walletDecider, [enrolled, credited])
      .when(receive({ returned: true }))
      .then([PointsTransferredIn({ ...credited.data, lotId: 'transfer-returned/t9', returned: true })]);
  });

  test('what a member owes is paid from what they receive first', () => {
    const owing = PointsClawedBack({
      userId,
      refundId: 'r1',
      orderId: 'o1',
      cause: 'refund',
      amount: null,
      points: 25,
      expired: 0,
      lots: [],
      owed: 25,
      shortfall: 0,
      fingerprint: 'f',
      clawedBackAt: at,
    });
    given(walletDecider, [enrolled, owing])
      .when(receive())
      .then([credited, OwedPointsRepaid({ userId, points: 25, lots: [{ lotId: 'transfer/t9', points: 25 }], repaidAt: at })]);
  });

  test("an erased member's wallet refuses it (the sender gets it back)", () => {
    given(walletDecider, [enrolled, MemberErased({ userId, erasedAt: at })])
      .when(receive())
      .thenRejects({ kind: 'UnknownMember' });
  });
});
