import { Webhook } from 'standardwebhooks';
import { generateSigningSecret, SecretBox, signatureHeaders, signingSecrets } from './signing';

describe('Standard Webhooks signatures', () => {
  const body = JSON.stringify({ type: 'track', event: 'Order Completed' });

  test('the reference library verifies what we sign', () => {
    const secret = generateSigningSecret();
    const headers = signatureHeaders([secret], 'msg_1', new Date(), body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSigningSecret()).verify(body, { ...headers })).toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, { ...headers })).toThrow();
  });

  test('during a rotation one header carries a signature per secret, and either secret verifies', () => {
    const [old, fresh] = [generateSigningSecret(), generateSigningSecret()];
    const headers = signatureHeaders([fresh, old], 'msg_2', new Date(), body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const secret of [old, fresh]) expect(new Webhook(secret).verify(body, { ...headers })).toBeTruthy();
  });

  test('a sealed secret opens only for the endpoint it was sealed for, and only under the same master key', () => {
    const box = new SecretBox(Buffer.alloc(32, 1));
    const secret = generateSigningSecret();
    const sealed = box.seal(secret, 'endpoint-1');
    expect(sealed).not.toContain(secret.slice(6, 20));
    expect(box.open(sealed, 'endpoint-1')).toBe(secret);
    expect(() => box.open(sealed, 'endpoint-2')).toThrow();
    expect(() => new SecretBox(Buffer.alloc(32, 2)).open(sealed, 'endpoint-1')).toThrow();
  });

  test('a rotated-out secret signs until its grace period ends', () => {
    const box = new SecretBox(Buffer.alloc(32, 1));
    const [current, previous] = [generateSigningSecret(), generateSigningSecret()];
    const stored = [
      { sealed: box.seal(current, 'e'), validUntil: null },
      { sealed: box.seal(previous, 'e'), validUntil: '2026-12-06T12:00:00.000Z' },
    ];
    expect(signingSecrets(box, stored, 'e', new Date('2026-12-06T11:59:59.999Z'))).toEqual([current, previous]);
    expect(signingSecrets(box, stored, 'e', new Date('2026-12-06T12:00:00.000Z'))).toEqual([current]);
  });
});
