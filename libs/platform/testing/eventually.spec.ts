import { eventually } from './eventually';

describe('eventually', () => {
  test('resolves once a predicate holds', async () => {
    let calls = 0;
    await eventually(() => ++calls === 3, { intervalMs: 1 });
    expect(calls).toBe(3);
  });

  test('resolves once an assertion stops throwing', async () => {
    let calls = 0;
    await eventually(
      () => {
        calls++;
        expect(calls).toBeGreaterThan(2);
      },
      { intervalMs: 1 },
    );
    expect(calls).toBe(3);
  });

  test("times out with the last assertion's error, or with what was awaited", async () => {
    await expect(eventually(() => expect(1).toBe(2), { timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(/Expected: 2/);
    await expect(eventually(async () => false, { timeoutMs: 30, intervalMs: 5, what: 'the profile' })).rejects.toThrow(
      'not within 30 ms: the profile',
    );
  });
});
