/**
 * What outstanding points are worth: points × the value of one point, in exact decimal arithmetic
 * (finance adds these up; a float would not). The value comes as a decimal string with at most
 * six decimals, e.g. "0.01"; the result keeps as many decimals as the value has, at least two.
 */
export function pointsValue(points: bigint, valuePerPoint: string): string {
  const [whole, fraction = ''] = valuePerPoint.split('.');
  const decimals = Math.max(2, fraction.length);
  const scaled = BigInt(`${whole}${fraction.padEnd(decimals, '0')}`) * points;
  const digits = scaled.toString().padStart(decimals + 1, '0');
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** A value per point as pointsValue takes it: not negative, at most 9 digits before the point and 6 after. */
export const VALUE_PER_POINT = /^(0|[1-9]\d{0,8})(\.\d{1,6})?$/;

/** The month a lot expires in (UTC), or "never". */
export const expiryMonthOf = (expiresAt: Date | null): string => (expiresAt ? expiresAt.toISOString().slice(0, 7) : 'never');
