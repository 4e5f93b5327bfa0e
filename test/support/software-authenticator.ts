import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/** A passkey as another thread takes it over (SoftwarePasskey.transfer), to go on signing where this one stopped. */
export interface TransferredPasskey {
  readonly origin: string;
  readonly credentialId: string;
  /** PKCS #8 PEM. */
  readonly privateKey: string;
  readonly userHandle?: string;
  readonly counts: boolean;
  readonly signCount: number;
}

/**
 * A passkey held in memory: what a platform authenticator does for navigator.credentials, done
 * with node:crypto (ES256 over P-256), so tests and the bench can register passkeys and sign in
 * with them through login's HTTP routes without a browser. It always reports user presence and
 * user verification (as login requires) and counts its signatures, like a security key.
 */
export class SoftwarePasskey {
  readonly credentialId: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private signCount = 0;

  /** `userHandle`: the user id the registration options named (base64url), which the assertion returns. */
  constructor(
    private readonly origin: string,
    private userHandle?: string,
    /** Counts signatures (false: always 0, as synced passkeys report). */
    private readonly counts = true,
    /** The passkey another thread held (restore); a new key and credential id otherwise. */
    transferred?: TransferredPasskey,
  ) {
    if (transferred) {
      this.privateKey = createPrivateKey(transferred.privateKey);
      this.publicKey = createPublicKey(this.privateKey);
      this.credentialId = transferred.credentialId;
      this.signCount = transferred.signCount;
    } else {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      this.privateKey = privateKey;
      this.publicKey = publicKey;
      this.credentialId = randomBytes(32).toString('base64url');
    }
  }

  /** This passkey for another thread; stop signing with this copy, or the two counts diverge. */
  transfer(): TransferredPasskey {
    return {
      origin: this.origin,
      credentialId: this.credentialId,
      privateKey: this.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      ...(this.userHandle ? { userHandle: this.userHandle } : {}),
      counts: this.counts,
      signCount: this.signCount,
    };
  }

  static restore(transferred: TransferredPasskey): SoftwarePasskey {
    return new SoftwarePasskey(transferred.origin, transferred.userHandle, transferred.counts, transferred);
  }

  /** The answer to navigator.credentials.create(options): an attestation of format `none` with this key. */
  register(options: { challenge: string; rp: { id?: string }; user: { id: string } }) {
    this.userHandle = options.user.id;
    const jwk = this.publicKey.export({ format: 'jwk' });
    // COSE_Key (RFC 9053): kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    const coseKey = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]);
    const id = Buffer.from(this.credentialId, 'base64url');
    const attested = Buffer.concat([
      Buffer.alloc(16), // AAGUID: none given
      Buffer.from([id.length >> 8, id.length & 0xff]),
      id,
      Buffer.from(isoCBOR.encode(coseKey)),
    ]);
    // Flags: user present (0x01), user verified (0x04), attested credential data (0x40).
    const authData = Buffer.concat([this.authenticatorData(options.rp.id!, 0x45), attested]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', new Uint8Array(authData)],
      ]) as never,
    );
    return this.credential({
      clientDataJSON: this.clientData('webauthn.create', options.challenge),
      attestationObject: Buffer.from(attestationObject).toString('base64url'),
      transports: ['internal'],
    });
  }

  /** The answer to navigator.credentials.get(options): an assertion signed by this key, with its user handle. */
  assert(options: { challenge: string; rpId?: string }) {
    const clientDataJSON = this.clientData('webauthn.get', options.challenge);
    const authenticatorData = this.authenticatorData(options.rpId!, 0x05);
    const signed = Buffer.concat([authenticatorData, createHash('sha256').update(Buffer.from(clientDataJSON, 'base64url')).digest()]);
    return this.credential({
      clientDataJSON,
      authenticatorData: authenticatorData.toString('base64url'),
      // ECDSA's DER signature, as WebAuthn carries it.
      signature: sign('sha256', signed, this.privateKey).toString('base64url'),
      ...(this.userHandle ? { userHandle: this.userHandle } : {}),
    });
  }

  /** A PublicKeyCredential as its toJSON() writes it, around the authenticator's `response`. */
  private credential<R extends object>(response: R) {
    return { id: this.credentialId, rawId: this.credentialId, type: 'public-key' as const, clientExtensionResults: {}, response };
  }

  private authenticatorData(rpId: string, flags: number): Buffer {
    if (this.counts) this.signCount += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counts ? this.signCount : 0);
    return Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([flags]), counter]);
  }

  private clientData(type: string, challenge: string): string {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false })).toString('base64url');
  }
}
