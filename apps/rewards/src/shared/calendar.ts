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

const WEEKDAY_OF: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The wall-clock day of the week (0 Monday … 6 Sunday) and hour (0-23) of an instant in an IANA
 * time zone, daylight saving included: what "weekends from 9 to 18" means to a shop.
 */
export function wallClock(at: Date, timeZone: string): { weekday: number; hour: number } {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: 'numeric', hourCycle: 'h23' });
    formatters.set(timeZone, format);
  }
  const parts = format.formatToParts(at);
  const weekday = WEEKDAY_OF[parts.find((part) => part.type === 'weekday')!.value]!;
  return { weekday, hour: Number(parts.find((part) => part.type === 'hour')!.value) };
}

/** Whether the runtime knows the zone (Intl throws a RangeError for one it does not). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
