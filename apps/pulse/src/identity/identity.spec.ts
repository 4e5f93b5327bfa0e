import { given } from '#cqrs/testing';
import { identityDecider, isPlaceholder, type Identifier, type IdentityEvent, type ResolveIdentities } from './identity.decider';

const user = (value: string): Identifier => ({ kind: 'userId', value });
const anon = (value: string): Identifier => ({ kind: 'anonymousId', value });
const email = (value: string): Identifier => ({ kind: 'email', value });

const opened = (profileId: string, userId: string | null = null): IdentityEvent => ({ type: 'ProfileOpened', data: { profileId, userId } });
const linked = (profileId: string, identifier: Identifier): IdentityEvent => ({
  type: 'IdentifierLinked',
  data: { profileId, identifier },
});
const identified = (profileId: string, userId: string): IdentityEvent => ({ type: 'ProfileIdentified', data: { profileId, userId } });
const mergedInto = (mergedId: string, survivorId: string, via: Identifier): IdentityEvent => ({
  type: 'ProfileMergedInto',
  data: { mergedId, survivorId, via },
});
const refused = (identifier: Identifier, profileId: string, reason: 'different-user' | 'identifier-limit'): IdentityEvent => ({
  type: 'MergeRefused',
  data: { identifier, profileId, reason },
});
const attributed = (profileId: string): IdentityEvent => ({ type: 'MessageAttributed', data: { profileId } });
/** A profile as the graph already holds it: opened with its identifiers linked. */
const profile = (profileId: string, userId: string | null, ...identifiers: Identifier[]): IdentityEvent[] => [
  opened(profileId, userId),
  ...identifiers.map((identifier) => linked(profileId, identifier)),
];

const resolve = (...identifiers: Identifier[]): ResolveIdentities => ({
  type: 'ResolveIdentities',
  identifiers,
  newProfileId: 'new',
  maxMergesPerIdentifier: 2,
});

describe('identity resolution', () => {
  test('a first message opens a profile holding all its identifiers', () => {
    given(identityDecider, [])
      .when(resolve(user('u1'), anon('a1')))
      .then([opened('new', 'u1'), linked('new', user('u1')), linked('new', anon('a1')), attributed('new')]);
  });

  test('a message whose identifiers are all known lands on their profile and changes nothing', () => {
    given(identityDecider, profile('p1', 'u1', user('u1'), anon('a1')))
      .when(resolve(anon('a1')))
      .then([attributed('p1')]);
  });

  test('identify links an anonymous profile to a userId: the anonymous profile gains the userId', () => {
    given(identityDecider, profile('p-anon', null, anon('a1')))
      .when(resolve(user('u1'), anon('a1')))
      .then([identified('p-anon', 'u1'), linked('p-anon', user('u1')), attributed('p-anon')]);
  });

  test('alias merges the anonymous profile into the user profile', () => {
    given(identityDecider, [...profile('p-user', 'u1', user('u1')), ...profile('p-anon', null, anon('a1'))])
      .when(resolve(user('u1'), anon('a1')))
      .then([mergedInto('p-anon', 'p-user', anon('a1')), attributed('p-user')]);
  });

  test('two profiles with different userIds are never merged', () => {
    given(identityDecider, [...profile('p-2', 'u2', user('u2')), ...profile('p-1', 'u1', anon('shared'))])
      .when(resolve(user('u2'), anon('shared')))
      .then([refused(anon('shared'), 'p-1', 'different-user'), attributed('p-2')]);
  });

  test('a new userId on a device another user owns gets a profile of its own', () => {
    given(identityDecider, profile('p-1', 'u1', anon('shared')))
      .when(resolve(user('u3'), anon('shared')))
      .then([opened('new', 'u3'), linked('new', user('u3')), refused(anon('shared'), 'p-1', 'different-user'), attributed('new')]);
  });

  test('placeholder values are never identities', () => {
    for (const value of ['', 'null', 'undefined', 'anonymous', '0', '-1', 'NULL', ' None ', '000']) expect(isPlaceholder(value)).toBe(true);
    expect(isPlaceholder('u-0')).toBe(false);
    given(identityDecider, profile('p-x', null, anon('null')))
      .when(resolve(anon('null')))
      .thenNothingHappens();
    given(identityDecider, profile('p-x', 'ux', anon('0')))
      .when(resolve(user('u9'), anon('0')))
      .then([opened('new', 'u9'), linked('new', user('u9')), attributed('new')]);
  });

  test('an identifier that has already caused its share of merges merges nothing more', () => {
    const kioskHistory = [
      ...profile('p-kiosk', null, anon('kiosk')),
      ...profile('p-a', null, email('a')),
      mergedInto('p-a', 'p-kiosk', anon('kiosk')),
      ...profile('p-b', null, email('b')),
      mergedInto('p-b', 'p-kiosk', anon('kiosk')),
    ];
    given(identityDecider, [...kioskHistory, ...profile('p-user', 'u1', user('u1'))])
      .when(resolve(user('u1'), anon('kiosk')))
      .then([refused(anon('kiosk'), 'p-kiosk', 'identifier-limit'), attributed('p-user')]);
  });

  test('a merge that brings in a userId hands it to the surviving profile', () => {
    const history = [...profile('p-mail', null, email('idx')), ...profile('p-anon', 'u7', anon('a1'))];
    given(identityDecider, history)
      .when(resolve(email('idx'), anon('a1')))
      .then([mergedInto('p-anon', 'p-mail', anon('a1')), attributed('p-mail')]);
    const after = [...history, mergedInto('p-anon', 'p-mail', anon('a1'))];
    // The survivor now holds u7: another user's id on the same e-mail is kept apart.
    given(identityDecider, after)
      .when(resolve(user('u8'), email('idx')))
      .then([opened('new', 'u8'), linked('new', user('u8')), refused(email('idx'), 'p-mail', 'different-user'), attributed('new')]);
  });

  test('identifiers of a merged profile follow it to the survivor', () => {
    const history = [
      ...profile('p-user', 'u1', user('u1')),
      ...profile('p-anon', null, anon('a1'), anon('a2')),
      mergedInto('p-anon', 'p-user', anon('a1')),
    ];
    given(identityDecider, history)
      .when(resolve(anon('a2')))
      .then([attributed('p-user')]);
  });
});
