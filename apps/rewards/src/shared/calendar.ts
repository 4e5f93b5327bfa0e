/** Calendar arithmetic in UTC: expiry dates and tier periods are months, not fixed milliseconds. */
export function addMonths(at: Date, months: number): Date {
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      year,
      month,
      Math.min(at.getUTCDate(), lastDay),
      at.getUTCHours(),
      at.getUTCMinutes(),
      at.getUTCSeconds(),
      at.getUTCMilliseconds(),
    ),
  );
}

/** When points earned at `earnedAt` expire under the program's expiry policy (null: never). */
export function expiryOf(
  policy:
    { monthsAfterEarning: number } | { endOfPeriod: { period: 'month' | 'quarter' | 'year'; periodsAfter: number } } | null | undefined,
  earnedAt: Date,
): Date | null {
  if (!policy) return null;
  if ('monthsAfterEarning' in policy) return addMonths(earnedAt, policy.monthsAfterEarning);
  const { period, periodsAfter } = policy.endOfPeriod;
  const months = { month: 1, quarter: 3, year: 12 }[period];
  // The first instant of the period after the earning's, `periodsAfter` periods on: its end, exclusive.
  const start = Math.floor(earnedAt.getUTCMonth() / months) * months;
  return new Date(Date.UTC(earnedAt.getUTCFullYear(), start + months * (periodsAfter + 1), 1));
}
