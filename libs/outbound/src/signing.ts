import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** Standard Webhooks secrets are `whsec_` and the base64 of the key bytes (24 to 64 bytes). */
const SECRET = /^whsec_([A-Za-z0-9+/]{32,88}={0,2})$/;

/** A fresh signing secret: 32 random bytes, as the Standard Webhooks libraries generate them. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function isSigningSecret(value: string): boolean {
  return SECRET.test(value);
}

/** The headers Standard Webhooks receivers verify (https://www.standardwebhooks.com/). */
export interface SignatureHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
}

/**
 * Signs `id.timestamp.body` with every secret given: during a rotation the receiver may hold the
 * old secret or the new one, and the spec lets one header carry a signature for each, separated
 * by spaces; a receiver accepts the request when any of them verifies.
 */
export function signatureHeaders(secrets: readonly string[], id: string, at: Date, body: string): SignatureHeaders {
  if (secrets.length === 0) throw new Error('a webhook needs at least one signing secret');
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signatures = secrets.map((secret) => {
    const match = SECRET.exec(secret);
    if (!match) throw new Error('a signing secret is not in the whsec_<base64> form');
    const mac = createHmac('sha256', Buffer.from(match[1]!, 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64');
    return `v1,${mac}`;
  });
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

// A versioned label of its own: this key seals signing secrets at rest and nothing else.
const SECRET_BOX_INFO = 'tessera/outbound/signing-secrets/v1';

/**
 * Signing secrets at rest (in events and in the endpoints table) are sealed with AES-256-GCM under
 * a key derived from the master key: a copy of the database or of the event log does not let its
 * holder forge webhooks. The endpoint id is bound in as associated data, so a sealed secret copied
 * onto another endpoint does not open.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(masterKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), SECRET_BOX_INFO, 32));
  }

  seal(secret: string, endpointId: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(endpointId));
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64url')}.${sealed.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
  }

  open(sealed: string, endpointId: string): string {
    const [version, iv, data, tag] = sealed.split('.');
    if (version !== 'v1' || !iv || !data || !tag) throw new Error('not a sealed signing secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(endpointId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** The secrets that sign now: the current one and any rotated-out one still in its grace period. */
export function signingSecrets(
  box: SecretBox,
  stored: readonly { readonly sealed: string; readonly validUntil: string | null }[],
  endpointId: string,
  now: Date,
): string[] {
  return stored
    .filter((secret) => secret.validUntil === null || Date.parse(secret.validUntil) > now.getTime())
    .map((secret) => box.open(secret.sealed, endpointId));
}
