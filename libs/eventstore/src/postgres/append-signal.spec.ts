import { AppendSignal } from './subscription';

/** A wait that no append concerns ends as 'idle' when its poll delay runs out; this one is short. */
const POLL_MS = 30;

describe('AppendSignal', () => {
  const never = new AbortController().signal;
  const accounts = { streamNamePrefixes: ['register.account-'] };

  it('wakes a subscription whose filter takes the appended stream', async () => {
    const signal = new AppendSignal();
    const waiting = signal.wait(signal.current, 60_000, never, accounts);
    signal.notify({ streamName: 'register.account-1', types: ['UserRegistered'] });
    await expect(waiting).resolves.toBe('appended');
  });

  it('lets a subscription sleep through appends its filter rejects', async () => {
    const signal = new AppendSignal();
    const waiting = signal.wait(signal.current, POLL_MS, never, accounts);
    signal.notify({ streamName: 'register.email-1', types: ['EmailReserved'] });
    signal.notify({ streamName: '$register.account-1', types: ['UserRegistered'] });
    await expect(waiting).resolves.toBe('idle');
  });

  it('filters on event types as the page query does, $-types excluded', async () => {
    const signal = new AppendSignal();
    const filter = { eventTypePrefixes: ['User'] };
    const rejected = signal.wait(signal.current, POLL_MS, never, filter);
    signal.notify({ streamName: 'register.account-1', types: ['$metadata', 'EmailVerified'] });
    await expect(rejected).resolves.toBe('idle');
    const taken = signal.wait(signal.current, 60_000, never, filter);
    signal.notify({ streamName: 'register.account-1', types: ['EmailVerified', 'UserRegistered'] });
    await expect(taken).resolves.toBe('appended');
  });

  it('does not miss an append that happened while the subscription was reading', async () => {
    const signal = new AppendSignal();
    const seen = signal.current;
    signal.notify({ streamName: 'register.account-1', types: ['UserRegistered'] });
    signal.notify({ streamName: 'register.email-1', types: ['EmailReserved'] });
    await expect(signal.wait(seen, 60_000, never, accounts)).resolves.toBe('appended');
    const unconcerned = signal.current - 1;
    await expect(signal.wait(unconcerned, POLL_MS, never, accounts)).resolves.toBe('idle');
  });

  it('wakes every subscription for an append it knows nothing about, and for one it no longer remembers', async () => {
    const signal = new AppendSignal();
    const waiting = signal.wait(signal.current, 60_000, never, accounts);
    signal.notify();
    await expect(waiting).resolves.toBe('appended');
    const longAgo = signal.current;
    for (let i = 0; i < 1000; i++) signal.notify({ streamName: 'register.email-1', types: ['EmailReserved'] });
    await expect(signal.wait(longAgo, 60_000, never, accounts)).resolves.toBe('appended');
  });

  it('ends a wait when the subscription closes', async () => {
    const signal = new AppendSignal();
    const closing = new AbortController();
    const waiting = signal.wait(signal.current, 60_000, closing.signal, accounts);
    closing.abort();
    await expect(waiting).resolves.toBe('appended');
  });
});
