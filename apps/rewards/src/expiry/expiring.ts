import { accept, type Decision } from '#cqrs';
import type { ProgramDefinition } from '../program/program.events';
import { PointsExpiringSoon, type WalletEvent } from '../wallet/wallet.events';
import { spendableLots, type WalletState } from '../wallet/wallet.state';

const DAY_MS = 24 * 3600 * 1000;

/** Points a member may spend now that expire within `days` of `now`, soonest first (pure: the clock comes in). */
export function expiringWithin(state: WalletState, now: Date, days: number) {
  const until = new Date(now.getTime() + days * DAY_MS).toISOString();
  const lots = spendableLots(state, now)
    .filter((lot) => lot.expiresAt !== null && lot.expiresAt <= until)
    .map(({ lotId, remaining, expiresAt }) => ({ lotId, points: remaining, expiresAt: expiresAt! }));
  return { until, points: lots.reduce((sum, lot) => sum + lot.points, 0), lots };
}

export interface RemindExpiring {
  readonly type: 'RemindExpiring';
  readonly userId: string;
  readonly program?: ProgramDefinition;
  readonly now: Date;
}

/** Each spendable lot that expires within the program's `remindDaysBefore` is announced once (`PointsExpiringSoon`). */
export function remindExpiring(command: RemindExpiring, state: WalletState): Decision<WalletEvent, never> {
  const days = command.program?.expiry?.remindDaysBefore;
  if (!days || !state.enrolled) return accept();
  const remindedAt = command.now.toISOString();
  return accept(
    ...expiringWithin(state, command.now, days)
      .lots.filter((lot) => !state.reminded.has(lot.lotId))
      .map((lot) =>
        PointsExpiringSoon({ userId: command.userId, lotId: lot.lotId, points: lot.points, expiresAt: lot.expiresAt, remindedAt }),
      ),
  );
}
