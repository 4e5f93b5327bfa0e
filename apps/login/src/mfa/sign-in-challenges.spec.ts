import fc from 'fast-check';
import { CHALLENGE_TTL_S } from './passkey-challenges';
import { signedChallengeOf, SignInChallenges } from './sign-in-challenges';

const tenant = '0193c2a0-0000-7000-8000-0000000000aa';
const uid = 'interaction-uid-1';
const ada = '0193c2a0-0000-7000-8000-000000000001';
const start = new Date('2026-12-08T02:00:00.000Z');

function challengesAt(now: { time: Date }, secret = Buffer.alloc(32, 7)) {
  return new SignInChallenges(secret, () => now.time);
}

describe('sealed sign-in challenges', () => {
  test('a challenge opens for the tenant and interaction it was issued for, with an id and its expiry, and for nothing else', () => {
    const now = { time: start };
    const challenges = challengesAt(now);
    const issued = challenges.issue(tenant, uid);
    expect(issued).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const opened = challenges.open(tenant, uid, issued);
    expect(opened).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), until: new Date(start.getTime() + CHALLENGE_TTL_S * 1000) });
    // Whoever's passkey it is for, it answers for the person expected at a second step too.
    expect(challenges.open(tenant, uid, issued, ada)).toEqual(opened);
    expect(challenges.open('0193c2a0-0000-7000-8000-0000000000bb', uid, issued)).toBeUndefined();
    expect(challenges.open(tenant, 'interaction-uid-2', issued)).toBeUndefined();
    // Another installation's key (or a rotated one) issued something else.
    expect(challengesAt(now, Buffer.alloc(32, 8)).open(tenant, uid, issued)).toBeUndefined();
    expect(challenges.issue(tenant, uid)).not.toBe(issued);
  });

  test('one issued for a person answers for that person only', () => {
    const challenges = challengesAt({ time: start });
    const forAda = challenges.issue(tenant, uid, ada);
    expect(challenges.open(tenant, uid, forAda, ada)).toMatchObject({ userId: ada });
    expect(challenges.open(tenant, uid, forAda)).toBeUndefined();
    expect(challenges.open(tenant, uid, forAda, '0193c2a0-0000-7000-8000-000000000002')).toBeUndefined();
  });

  test('a challenge stops answering when it expires', () => {
    const now = { time: start };
    const challenges = challengesAt(now);
    const issued = challenges.issue(tenant, uid);
    now.time = new Date(start.getTime() + CHALLENGE_TTL_S * 1000 - 1000);
    expect(challenges.open(tenant, uid, issued)).toBeDefined();
    now.time = new Date(start.getTime() + CHALLENGE_TTL_S * 1000);
    expect(challenges.open(tenant, uid, issued)).toBeUndefined();
  });

  test('no string opens but one issued, however it is changed; none throws', () => {
    const challenges = challengesAt({ time: start });
    const issued = challenges.issue(tenant, uid);
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (anything) => anything === issued || challenges.open(tenant, uid, anything) === undefined),
    );
    // Every single-character change of a real one (base64url), the expiry's bytes included.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    fc.assert(
      fc.property(fc.nat(issued.length - 1), fc.constantFrom(...alphabet), (at, replacement) => {
        const changed = issued.slice(0, at) + replacement + issued.slice(at + 1);
        return changed === issued || challenges.open(tenant, uid, changed, ada) === undefined;
      }),
    );
  });

  test('the challenge an assertion signed is read from its clientDataJSON; anything else there reads as none', () => {
    const encoded = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
    expect(signedChallengeOf(encoded({ type: 'webauthn.get', challenge: 'abc' }))).toBe('abc');
    for (const other of [{}, { challenge: 42 }, null, [1], 'not json', '"a string"'])
      expect(signedChallengeOf(encoded(other))).toBeUndefined();
  });
});
