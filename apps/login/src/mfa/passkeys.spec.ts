import { given } from '#cqrs/testing';
import { factorsDecider, hasSecondFactor, MAX_PASSKEYS, type NewPasskey } from './factors.decider';
import { PasskeyRefused, PasskeyRegistered, PasskeyRemoved, PasskeyUsed, SecondFactorsReset, TotpEnrolmentStarted } from './factors.events';

const userId = '0193c2a0-0000-7000-8000-000000000001';
const now = new Date('2026-12-06T08:00:10.000Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const at = (time: Date) => time.toISOString();
const decider = factorsDecider({ threshold: 3, windowMs: 15 * 60_000, cooldownMs: 15 * 60_000 });

const laptop: NewPasskey = { credentialId: 'cred-laptop', publicKey: 'pk-laptop', counter: 4, transports: ['internal'], backedUp: false };
const synced: NewPasskey = { credentialId: 'cred-synced', publicKey: 'pk-synced', counter: 0, transports: ['hybrid'], backedUp: true };
const registered = (passkey: NewPasskey, name: string, time = now) =>
  PasskeyRegistered({ userId, ...passkey, transports: [...passkey.transports], name, at: at(time) });
const both = [registered(laptop, 'Laptop'), registered(synced, 'Phone')];
/** The sign-in challenge each use below answers, live for five minutes from `now`. */
const challenge = { id: 'nonce-1', until: at(later(300_000)) };
const use = (credentialId: string, counter: number, time = later(1000), backedUp = false, answering = challenge) =>
  ({ type: 'UsePasskey', userId, credentialId, signatureValid: true, counter, backedUp, challenge: answering, now: time }) as const;

describe('passkeys', () => {
  test('a verified registration enrols the passkey under the name the person gave it; it is listed with when it was created', () => {
    given(decider, [])
      .when({ type: 'RegisterPasskey', userId, passkey: laptop, name: 'Laptop', now })
      .then([registered(laptop, 'Laptop')]);
    const state = both.reduce(decider.evolve, decider.initialState());
    expect(state.passkeys.map(({ name, createdAt, lastUsedAt }) => ({ name, createdAt, lastUsedAt }))).toEqual([
      { name: 'Laptop', createdAt: now.getTime(), lastUsedAt: null },
      { name: 'Phone', createdAt: now.getTime(), lastUsedAt: null },
    ]);
  });

  test('a credential id is registered once on a person’s factors', () => {
    given(decider, both)
      .when({ type: 'RegisterPasskey', userId, passkey: { ...laptop, publicKey: 'another key' }, name: 'Again', now })
      .thenRejects({ kind: 'PasskeyAlreadyRegistered' });
  });

  test(`a person holds at most ${MAX_PASSKEYS} passkeys`, () => {
    const many = Array.from({ length: MAX_PASSKEYS }, (_, i) => registered({ ...laptop, credentialId: `cred-${i}` }, `Key ${i}`));
    given(decider, many).when({ type: 'RegisterPasskey', userId, passkey: synced, name: 'One more', now }).thenRejects({
      kind: 'TooManyPasskeys',
    });
  });

  test('a sign-in with a passkey moves its signature count forward and records when it was last used', () => {
    given(decider, both)
      .when(use('cred-laptop', 5))
      .then([PasskeyUsed({ userId, credentialId: 'cred-laptop', counter: 5, backedUp: false, challenge, at: at(later(1000)) })]);
    const used = PasskeyUsed({ userId, credentialId: 'cred-laptop', counter: 5, backedUp: false, challenge, at: at(later(1000)) });
    const state = [...both, used].reduce(decider.evolve, decider.initialState());
    expect(state.passkeys[0]).toMatchObject({ counter: 5, lastUsedAt: later(1000).getTime() });
  });

  test('a signature count that stands still or goes back is a cloned authenticator: refused, and the refusal recorded', () => {
    given(decider, both)
      .when(use('cred-laptop', 4))
      .then([
        PasskeyRefused({ userId, credentialId: 'cred-laptop', reason: 'counter-regressed', counter: 4, challenge, at: at(later(1000)) }),
      ]);
    given(decider, both)
      .when(use('cred-laptop', 0))
      .then([
        PasskeyRefused({ userId, credentialId: 'cred-laptop', reason: 'counter-regressed', counter: 0, challenge, at: at(later(1000)) }),
      ]);
  });

  test('a signature that does not verify under the stored key signs nothing in, and the refusal is recorded', () => {
    given(decider, both)
      .when({ ...use('cred-laptop', 9), signatureValid: false })
      .then([
        PasskeyRefused({ userId, credentialId: 'cred-laptop', reason: 'signature-invalid', counter: 9, challenge, at: at(later(1000)) }),
      ]);
  });

  test('a sign-in challenge answers once, used or refused, whatever the second answer says; the state forgets it once expired', () => {
    const used = PasskeyUsed({ userId, credentialId: 'cred-synced', counter: 0, backedUp: true, challenge, at: at(later(1000)) });
    given(decider, [...both, used])
      .when(use('cred-synced', 0, later(2000), true))
      .thenRejects({ kind: 'ChallengeAnswered' });
    const refused = PasskeyRefused({
      userId,
      credentialId: 'cred-laptop',
      reason: 'signature-invalid',
      counter: 9,
      challenge,
      at: at(later(1000)),
    });
    given(decider, [...both, refused])
      .when(use('cred-laptop', 10, later(2000)))
      .thenRejects({ kind: 'ChallengeAnswered' });
    // Another challenge answers as usual.
    given(decider, [...both, used])
      .when(use('cred-synced', 0, later(2000), true, { id: 'nonce-2', until: at(later(300_000)) }))
      .then([
        PasskeyUsed({
          userId,
          credentialId: 'cred-synced',
          counter: 0,
          backedUp: true,
          challenge: { id: 'nonce-2', until: at(later(300_000)) },
          at: at(later(2000)),
        }),
      ]);
    // Past its expiry no sign-in can present it: the next answer recorded drops it from the state.
    const next = PasskeyUsed({ userId, credentialId: 'cred-synced', counter: 0, backedUp: true, at: at(later(301_000)) });
    expect([...both, used].reduce(decider.evolve, decider.initialState()).answeredChallenges).toEqual([
      { id: 'nonce-1', until: later(300_000).getTime() },
    ]);
    expect([...both, used, next].reduce(decider.evolve, decider.initialState()).answeredChallenges).toEqual([]);
  });

  test('an authenticator that keeps no count (0, as synced passkeys) is not a regression; its backup state follows the assertion', () => {
    given(decider, both)
      .when(use('cred-synced', 0, later(1000), true))
      .then([PasskeyUsed({ userId, credentialId: 'cred-synced', counter: 0, backedUp: true, challenge, at: at(later(1000)) })]);
  });

  test('a credential the person has not registered signs nothing in: another person’s passkey is refused', () => {
    given(decider, both).when(use('cred-of-someone-else', 9)).thenRejects({ kind: 'UnknownPasskey' });
    given(decider, []).when(use('cred-laptop', 9)).thenRejects({ kind: 'UnknownPasskey' });
  });

  test('a removed passkey is no longer listed and no longer signs in; removing an unknown one is refused', () => {
    const removed = PasskeyRemoved({ userId, credentialId: 'cred-laptop', at: at(later(1000)) });
    given(decider, both)
      .when({ type: 'RemovePasskey', userId, credentialId: 'cred-laptop', now: later(1000) })
      .then([removed]);
    given(decider, [...both, removed])
      .when(use('cred-laptop', 9))
      .thenRejects({ kind: 'UnknownPasskey' });
    given(decider, [...both, removed])
      .when({ type: 'RemovePasskey', userId, credentialId: 'cred-laptop', now: later(2000) })
      .thenRejects({ kind: 'UnknownPasskey' });
    expect([...both, removed].reduce(decider.evolve, decider.initialState()).passkeys.map((p) => p.name)).toEqual(['Phone']);
  });

  test('an operator’s reset removes the passkeys too; with only passkeys, there is something to reset', () => {
    const reset = SecondFactorsReset({ userId, by: 'admin', at: at(later(1000)) });
    given(decider, both)
      .when({ type: 'ResetFactors', userId, now: later(1000) })
      .then([reset]);
    given(decider, [...both, reset])
      .when(use('cred-synced', 0))
      .thenRejects({ kind: 'UnknownPasskey' });
  });

  test('a passkey alone is a second factor: sign-in asks for it after the password', () => {
    expect(hasSecondFactor([registered(synced, 'Phone')].reduce(decider.evolve, decider.initialState()))).toBe(true);
    expect(
      hasSecondFactor([TotpEnrolmentStarted({ userId, secret: 'ABC', at: at(now) })].reduce(decider.evolve, decider.initialState())),
    ).toBe(false);
  });
});
