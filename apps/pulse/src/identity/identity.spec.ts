import { isPlaceholder, resolveIdentities, type Identifier, type KnownIdentifier } from './identity.decider';

const user = (value: string): Identifier => ({ kind: 'userId', value });
const anon = (value: string): Identifier => ({ kind: 'anonymousId', value });
const known = (identifier: Identifier, profileId: string, profileUserId: string | null, merges = 0): KnownIdentifier => ({
  ...identifier,
  profileId,
  profileUserId,
  merges,
});

/** given what the graph knows, when a message carries these identifiers */
function given(graph: KnownIdentifier[]) {
  return {
    when: (...identifiers: Identifier[]) =>
      resolveIdentities({
        identifiers,
        known: graph.filter((k) => identifiers.some((i) => i.kind === k.kind && i.value === k.value)),
        newProfileId: 'new',
        maxMergesPerIdentifier: 2,
      }),
  };
}

describe('identity resolution', () => {
  test('a first message creates a profile holding all its identifiers', () => {
    expect(given([]).when(user('u1'), anon('a1'))).toEqual({
      outcome: 'resolved',
      profileId: 'new',
      created: true,
      userId: 'u1',
      linked: [user('u1'), anon('a1')],
      merges: [],
      refused: [],
    });
  });

  test('identify links an anonymous profile to a userId: the anonymous profile gains the userId', () => {
    expect(given([known(anon('a1'), 'p-anon', null)]).when(user('u1'), anon('a1'))).toMatchObject({
      profileId: 'p-anon',
      created: false,
      userId: 'u1',
      linked: [user('u1')],
      merges: [],
    });
  });

  test('alias merges the anonymous profile into the user profile', () => {
    const decision = given([known(user('u1'), 'p-user', 'u1'), known(anon('a1'), 'p-anon', null)]).when(user('u1'), anon('a1'));
    expect(decision).toMatchObject({
      profileId: 'p-user',
      merges: [{ survivorId: 'p-user', mergedId: 'p-anon', via: anon('a1') }],
      refused: [],
    });
  });

  test('two profiles with different userIds are never merged', () => {
    const decision = given([known(user('u2'), 'p-2', 'u2'), known(anon('shared'), 'p-1', 'u1')]).when(user('u2'), anon('shared'));
    expect(decision).toMatchObject({ profileId: 'p-2', merges: [], refused: [{ identifier: anon('shared'), reason: 'different-user' }] });
  });

  test('a new userId on a device another user owns gets a profile of its own', () => {
    const decision = given([known(anon('shared'), 'p-1', 'u1')]).when(user('u3'), anon('shared'));
    expect(decision).toMatchObject({ profileId: 'new', created: true, userId: 'u3', merges: [], refused: [{ reason: 'different-user' }] });
  });

  test('placeholder values are never identities', () => {
    for (const value of ['', 'null', 'undefined', 'anonymous', '0', '-1', 'NULL', ' None ', '000']) expect(isPlaceholder(value)).toBe(true);
    expect(isPlaceholder('u-0')).toBe(false);
    expect(given([known(anon('null'), 'p-x', null)]).when(anon('null'))).toEqual({ outcome: 'unidentified' });
    expect(given([known(anon('0'), 'p-x', 'ux')]).when(user('u9'), anon('0'))).toMatchObject({
      profileId: 'new',
      linked: [user('u9')],
      merges: [],
      refused: [],
    });
  });

  test('an identifier that has already caused its share of merges merges nothing more', () => {
    const decision = given([known(user('u1'), 'p-user', 'u1'), known(anon('kiosk'), 'p-kiosk', null, 2)]).when(user('u1'), anon('kiosk'));
    expect(decision).toMatchObject({
      profileId: 'p-user',
      merges: [],
      refused: [{ identifier: anon('kiosk'), reason: 'identifier-limit' }],
    });
  });

  test('a merge that brings in a userId hands it to the surviving profile', () => {
    const email: Identifier = { kind: 'email', value: 'idx' };
    const decision = given([known(email, 'p-mail', null), known(anon('a1'), 'p-anon', 'u7')]).when(email, anon('a1'));
    expect(decision).toMatchObject({ profileId: 'p-mail', userId: 'u7', merges: [{ mergedId: 'p-anon' }] });
  });
});
