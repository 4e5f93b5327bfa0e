import { KnownIdentities, type StoredIdentity } from './known-identities';

const tenant = '0190a6b2-0000-7000-8000-000000000001';
const stored = (kind: StoredIdentity['kind'], value: string, profileId: string, userId: string | null, merges = 0): StoredIdentity => ({
  tenantId: tenant,
  kind,
  value,
  profileId,
  userId,
  merges,
});

/** device-1 known from a committed batch, device-2 staged by the batch now running. */
function oneKnownOneStaged(): KnownIdentities {
  const known = new KnownIdentities(100);
  known.learn([stored('anonymousId', 'device-1', 'p1', null)]);
  known.committed();
  known.learn([stored('anonymousId', 'device-2', 'p2', null)]);
  return known;
}

describe('identities known from committed batches', () => {
  test('what a batch learns is known only once it commits', () => {
    const known = new KnownIdentities(100);
    known.learn([stored('anonymousId', 'device-1', 'p1', null)]);
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-1' })).toBeUndefined();
    known.committed();
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-1' })).toEqual(stored('anonymousId', 'device-1', 'p1', null));
  });

  test('a userId learnt through one identifier shows on every known identifier of that profile', () => {
    const known = new KnownIdentities(100);
    known.learn([stored('anonymousId', 'device-1', 'p1', null), stored('anonymousId', 'device-2', 'p1', null)]);
    known.committed();
    known.learn([stored('userId', 'ada', 'p1', 'ada'), stored('anonymousId', 'device-1', 'p1', 'ada')]);
    known.committed();
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-2' })?.userId).toBe('ada');
  });

  test('after forgetAll the batch reads nothing from memory, and once it commits only what it learnt since is known', () => {
    const known = oneKnownOneStaged();
    known.forgetAll();
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-1' })).toBeUndefined();
    known.learn([stored('anonymousId', 'device-3', 'p3', null)]);
    known.committed();
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-1' })).toBeUndefined();
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-2' })).toBeUndefined();
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-3' })?.profileId).toBe('p3');
  });

  test('reset forgets what is known and what a failed batch staged', () => {
    const known = oneKnownOneStaged();
    known.reset();
    known.committed();
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-1' })).toBeUndefined();
    expect(known.find(tenant, { kind: 'anonymousId', value: 'device-2' })).toBeUndefined();
  });
});
