import { expiryMonthOf, pointsValue, VALUE_PER_POINT } from './liability';

describe('what outstanding points are worth', () => {
  test('exact decimals, never a float: a trillion points at 0.000001 and 1,900 points at 0.01', () => {
    expect(pointsValue(1_000_000_000_000n, '0.000001')).toBe('1000000.000000');
    expect(pointsValue(1900n, '0.01')).toBe('19.00');
    expect(pointsValue(3n, '0.1')).toBe('0.30');
    expect(pointsValue(7n, '2')).toBe('14.00');
    expect(pointsValue(0n, '0.05')).toBe('0.00');
  });

  test('a value per point is a plain decimal of at most six places', () => {
    for (const ok of ['0.01', '1', '0', '123456789.123456']) expect(VALUE_PER_POINT.test(ok)).toBe(true);
    for (const bad of ['-1', '.5', '1e-2', '0.0000001', '01', '1,5', 'NaN', '', '1234567890'])
      expect(VALUE_PER_POINT.test(bad)).toBe(false);
  });

  test('lots are grouped by the UTC month they expire in, or never', () => {
    expect(expiryMonthOf(new Date('2027-06-30T23:30:00-02:00'))).toBe('2027-07');
    expect(expiryMonthOf(null)).toBe('never');
  });
});
