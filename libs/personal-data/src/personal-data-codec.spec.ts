import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import type { PersonalDataSealer } from '#cqrs';
import type { JsonObject } from '#eventstore';
import { createTestDatabase } from '../../../test/support/database';
import { aes256Gcm } from './aead';
import { PersonalDataIntegrityError, SubjectErasedError } from './errors';
import { framed } from './framing';
import { deriveKeys } from './master-key';
import { PersonalDataCodec, type PersonalDataSpec } from './personal-data-codec';
import { PersonalKeyStore } from './personal-key-store';

const registered: PersonalDataSpec = {
  subject: (data) => String(data.userId),
  fields: ['email', 'name', 'phone'],
};

const registration = (userId: string): JsonObject => ({
  userId,
  email: `${userId}@example.com`,
  name: `Name of ${userId}`,
  phone: '+44 20 7946 0958',
  plan: 'free',
});

/** Stored events go through JSON; the rules must hold for what actually comes back from storage. */
const stored = (data: JsonObject): JsonObject => JSON.parse(JSON.stringify(data)) as JsonObject;

describe('the personal data codec', () => {
  const keys = deriveKeys(randomBytes(32));
  let pool: Pool;
  let store: PersonalKeyStore;
  let codec: PersonalDataCodec;

  beforeAll(async () => {
    pool = new Pool({ connectionString: await createTestDatabase('pdcodec') });
    store = new PersonalKeyStore(pool, keys.keyWrappingKey);
    await store.migrate();
    codec = new PersonalDataCodec(store);
  });
  afterAll(() => pool.end());

  it('is what the CQRS event codec expects of a personal-data sealer', () => {
    const sealer: PersonalDataSealer = codec;
    expect(sealer).toBe(codec);
  });

  it('restores exactly the data it sealed', async () => {
    const data = registration('ada');
    const sealed = stored(await codec.seal('acme', registered, data));
    await expect(codec.open('acme', sealed)).resolves.toEqual({ data, erased: false });
  });

  it('leaves no plaintext of the personal fields anywhere in the sealed event', async () => {
    const sealed = await codec.seal('acme', registered, registration('grace'));
    const json = JSON.stringify(sealed);
    expect(json).not.toContain('grace@example.com');
    expect(json).not.toContain('Name of grace');
    expect(json).not.toContain('7946');
    expect(sealed).toEqual({
      userId: 'grace',
      plan: 'free',
      $personal: {
        subject: 'grace',
        v: 1,
        alg: 'XC20P',
        fields: ['email', 'name', 'phone'],
        iv: expect.any(String),
        ct: expect.any(String),
      },
    });
    // XChaCha20-Poly1305: a 192-bit nonce, and the 16-byte tag after the ciphertext.
    const envelope = sealed.$personal as JsonObject;
    expect(Buffer.from(envelope.iv as string, 'base64url')).toHaveLength(24);
    const plaintext = JSON.stringify({ email: 'grace@example.com', name: 'Name of grace', phone: '+44 20 7946 0958' });
    expect(Buffer.from(envelope.ct as string, 'base64url')).toHaveLength(Buffer.byteLength(plaintext) + 16);
  });

  /** Events and values as releases that sealed with AES-256-GCM stored them, under the person's current key. */
  const sealedWithAesGcm = async (subject: string, plaintext: JsonObject | string, binding: readonly string[]) => {
    const sealed = aes256Gcm.seal(await store.keyFor('acme', subject), Buffer.from(JSON.stringify(plaintext)), framed(...binding));
    return { subject, v: 1, alg: 'A256GCM', iv: sealed.iv.toString('base64url'), ct: sealed.ct.toString('base64url') };
  };

  it('still opens event fields and values sealed with AES-256-GCM, and not once their alg is relabelled', async () => {
    const fields = ['email', 'name', 'phone'];
    const { userId: _userId, plan: _plan, ...personal } = registration('legacy-ada');
    const envelope = await sealedWithAesGcm('legacy-ada', personal, [
      'tessera/personal-data/fields/v1',
      'acme',
      'legacy-ada',
      'A256GCM',
      ...fields,
    ]);
    const event = { userId: 'legacy-ada', plan: 'free', $personal: { ...envelope, fields } };
    await expect(codec.open('acme', event)).resolves.toEqual({ data: registration('legacy-ada'), erased: false });
    await expect(codec.open('acme', { ...event, $personal: { ...event.$personal, alg: 'XC20P' } })).rejects.toThrow(
      PersonalDataIntegrityError,
    );

    const value = await sealedWithAesGcm('legacy-ada', 'teal', ['tessera/personal-data/value/v1', 'acme', 'legacy-ada', 'A256GCM']);
    await expect(codec.openValue('acme', value)).resolves.toEqual({ value: 'teal', erased: false });

    await codec.forget('acme', 'legacy-ada');
    await expect(codec.open('acme', event)).resolves.toEqual({
      data: { userId: 'legacy-ada', plan: 'free', email: null, name: null, phone: null },
      erased: true,
    });
  });

  it('does not open an envelope relabelled from XChaCha20-Poly1305 to AES-256-GCM', async () => {
    const sealed = stored(await codec.seal('acme', registered, registration('relabelled')));
    const tampered = { ...sealed, $personal: { ...(sealed.$personal as JsonObject), alg: 'A256GCM' } };
    await expect(codec.open('acme', tampered)).rejects.toThrow(PersonalDataIntegrityError);
  });

  it('uses a fresh nonce for every seal, so equal data never looks equal', async () => {
    const first = await codec.seal('acme', registered, registration('ada'));
    const second = await codec.seal('acme', registered, registration('ada'));
    expect(JSON.stringify(first)).not.toBe(JSON.stringify(second));
  });

  it('does not add personal fields the event did not have', async () => {
    const sealed = stored(await codec.seal('acme', registered, { userId: 'ada', email: 'ada@example.com' }));
    const opened = await codec.open('acme', sealed);
    expect(opened.data).toEqual({ userId: 'ada', email: 'ada@example.com' });
  });

  it('leaves events without personal fields as they are, and lets data without $personal pass through', async () => {
    const data = { userId: 'ada', plan: 'pro' };
    expect(await codec.seal('acme', registered, data)).toEqual(data);
    await expect(codec.open('acme', data)).resolves.toEqual({ data, erased: false });
  });

  it('after a person is forgotten, opens their events with null fields and erased, while others in the tenant still open', async () => {
    const adaEvent = stored(await codec.seal('acme', registered, registration('forgotten-ada')));
    const bobEvent = stored(await codec.seal('acme', registered, registration('kept-bob')));
    await codec.forget('acme', 'forgotten-ada');
    await expect(codec.open('acme', adaEvent)).resolves.toEqual({
      data: { userId: 'forgotten-ada', plan: 'free', email: null, name: null, phone: null },
      erased: true,
    });
    await expect(codec.open('acme', bobEvent)).resolves.toEqual({ data: registration('kept-bob'), erased: false });
  });

  it('refuses to seal new personal data for a forgotten person', async () => {
    await codec.seal('acme', registered, registration('gone'));
    await codec.forget('acme', 'gone');
    await expect(codec.seal('acme', registered, registration('gone'))).rejects.toThrow(SubjectErasedError);
    await expect(codec.sealValue('acme', 'gone', 'blue')).rejects.toThrow(SubjectErasedError);
  });

  it('cannot open one tenant’s data in another tenant', async () => {
    const sealed = stored(await codec.seal('acme', registered, registration('tenant-ada')));
    await expect(codec.open('globex', sealed)).rejects.toThrow(PersonalDataIntegrityError);
    // Also when the other tenant has a person with the same id, and so a key of its own.
    await codec.seal('globex', registered, registration('tenant-ada'));
    await expect(codec.open('globex', sealed)).rejects.toThrow(PersonalDataIntegrityError);
  });

  it('cannot open one person’s ciphertext as another person’s', async () => {
    const ada = stored(await codec.seal('acme', registered, registration('moved-ada')));
    await codec.seal('acme', registered, registration('moved-bob'));
    const relabelled = { ...ada, $personal: { ...(ada.$personal as JsonObject), subject: 'moved-bob' } };
    await expect(codec.open('acme', relabelled)).rejects.toThrow(PersonalDataIntegrityError);
  });

  it.each(['ct', 'iv'])('fails loudly, not as erased, when %s was tampered with', async (part) => {
    const sealed = stored(await codec.seal('acme', registered, registration('tampered')));
    const envelope = sealed.$personal as JsonObject;
    const bytes = Buffer.from(envelope[part] as string, 'base64url');
    bytes[0] = bytes[0]! ^ 0x01;
    const tampered = { ...sealed, $personal: { ...envelope, [part]: bytes.toString('base64url') } };
    await expect(codec.open('acme', tampered)).rejects.toThrow(PersonalDataIntegrityError);
  });

  it('fails loudly when the list of sealed field names was changed', async () => {
    const sealed = stored(await codec.seal('acme', registered, registration('renamed')));
    const envelope = sealed.$personal as JsonObject;
    const tampered = { ...sealed, $personal: { ...envelope, fields: ['email', 'name'] } };
    await expect(codec.open('acme', tampered)).rejects.toThrow(PersonalDataIntegrityError);
  });

  it.each([
    ['not an object', 'oops'],
    ['an unknown version', { subject: 'ada', v: 2, alg: 'XC20P', fields: ['email'], iv: '', ct: '' }],
    [
      'an unknown cipher',
      { subject: 'ada', v: 1, alg: 'A128GCM', fields: ['email'], iv: 'AAAAAAAAAAAAAAAA', ct: 'AAAAAAAAAAAAAAAAAAAAAA' },
    ],
    [
      'a non-base64url ciphertext',
      { subject: 'ada', v: 1, alg: 'XC20P', fields: ['email'], iv: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', ct: 'not base64!' },
    ],
  ])('rejects a $personal that is %s', async (_case, envelope) => {
    await codec.seal('acme', registered, registration('ada'));
    await expect(codec.open('acme', { userId: 'ada', $personal: envelope })).rejects.toThrow(PersonalDataIntegrityError);
  });

  describe('single values', () => {
    it('seal and open any JSON value without leaving it in clear', async () => {
      const trait = { favouriteColour: 'teal', shoeSize: 42 };
      const sealed = await codec.sealValue('acme', 'traits-ada', trait);
      expect(JSON.stringify(sealed)).not.toContain('teal');
      await expect(codec.openValue('acme', stored(sealed))).resolves.toEqual({ value: trait, erased: false });
    });

    it('open as null and erased once their person is forgotten', async () => {
      const sealed = await codec.sealValue('acme', 'traits-gone', 'teal');
      await codec.forget('acme', 'traits-gone');
      await expect(codec.openValue('acme', sealed)).resolves.toEqual({ value: null, erased: true });
    });

    it('cannot be opened in another tenant', async () => {
      const sealed = await codec.sealValue('acme', 'traits-ada', 'teal');
      await codec.sealValue('globex', 'traits-ada', 'red');
      await expect(codec.openValue('globex', sealed)).rejects.toThrow(PersonalDataIntegrityError);
    });

    it('cannot be passed off as the sealed fields of an event', async () => {
      const sealed = await codec.sealValue('acme', 'traits-ada', { email: 'ada@example.com' });
      const forged = { userId: 'traits-ada', $personal: { ...sealed, fields: ['email'] } };
      await expect(codec.open('acme', forged)).rejects.toThrow(PersonalDataIntegrityError);
    });
  });
});
