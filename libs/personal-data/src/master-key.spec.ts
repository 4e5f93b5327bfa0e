import { randomBytes } from 'node:crypto';
import { InvalidMasterKeyError } from './errors';
import { deriveKeys, parseMasterKey } from './master-key';

describe('the master key (TESSERA_MASTER_KEY)', () => {
  const bytes = randomBytes(32);

  it.each([
    ['64 hex characters', bytes.toString('hex')],
    ['upper-case hex', bytes.toString('hex').toUpperCase()],
    ['padded base64', bytes.toString('base64')],
    ['unpadded base64', bytes.toString('base64').replace(/=+$/, '')],
    ['base64url', bytes.toString('base64url')],
    ['surrounded by whitespace, as pasted', `  ${bytes.toString('base64')}\n`],
  ])('is accepted as %s', (_encoding, text) => {
    expect(parseMasterKey(text).equals(bytes)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['too short', randomBytes(16).toString('base64')],
    ['too long', randomBytes(33).toString('base64')],
    ['63 hex characters', bytes.toString('hex').slice(1)],
    ['a passphrase', 'correct horse battery staple'],
    ['base64 with a stray character', `${bytes.toString('base64').slice(0, 20)}!${bytes.toString('base64').slice(21)}`],
    ['base64 with wrong padding', `${bytes.toString('base64url')}==`],
  ])('is rejected when %s, with an error naming the variable', (_case, text) => {
    expect(() => parseMasterKey(text)).toThrow(InvalidMasterKeyError);
    expect(() => parseMasterKey(text)).toThrow(/TESSERA_MASTER_KEY/);
  });

  it('never echoes a rejected value in the error', () => {
    const almostAKey = randomBytes(31).toString('hex');
    expect(() => parseMasterKey(almostAKey)).toThrow(expect.objectContaining({ message: expect.not.stringContaining(almostAKey) }));
  });

  it('yields one key per purpose, none equal to the master key or to each other', () => {
    const keys = deriveKeys(bytes);
    expect(keys.keyWrappingKey).toHaveLength(32);
    expect(keys.blindIndexKey).toHaveLength(32);
    expect(keys.keyWrappingKey.equals(keys.blindIndexKey)).toBe(false);
    expect(keys.keyWrappingKey.equals(bytes)).toBe(false);
    expect(keys.blindIndexKey.equals(bytes)).toBe(false);
  });

  it('derives the same keys from the same master key on every start', () => {
    const first = deriveKeys(parseMasterKey(bytes.toString('hex')));
    const again = deriveKeys(parseMasterKey(bytes.toString('base64')));
    expect(again.keyWrappingKey.equals(first.keyWrappingKey)).toBe(true);
    expect(again.blindIndexKey.equals(first.blindIndexKey)).toBe(true);
  });
});
