import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { inTransaction, type JsonValue } from '#eventstore';
import type { PersonalDataCodec } from '#personal-data';

export type PrivateJwk = Record<string, string> & { kid: string; kty: string };

/**
 * The subject the tenant's signing keys are sealed under. Sealing with the personal-data codec
 * reuses its per-subject key wrapped by TESSERA_MASTER_KEY, so a database dump alone never yields
 * a signing key; forgetting this subject would destroy the tenant's keys (tokens stop verifying).
 */
const SIGNING_KEYS_SUBJECT = 'login-signing-keys';

/**
 * Per-tenant ES256 keys in login_signing_keys, generated on first use. Rotation makes a new key
 * the signing key and keeps the previous ones in the JWKS for `overlapMs`, so tokens they signed
 * still verify until they expire.
 */
export class SigningKeys {
  constructor(
    private readonly pool: Pool,
    private readonly codec: PersonalDataCodec,
    private readonly overlapMs: number,
  ) {}

  /** Current signing key first, then the retired keys still inside the overlap window. */
  async keysOf(tenantId: string): Promise<PrivateJwk[]> {
    const existing = await this.load(tenantId);
    if (existing.length > 0) return existing;
    await inTransaction(
      this.pool,
      async (client) => {
        const { rows } = await client.query('SELECT 1 FROM login_signing_keys WHERE tenant_id = $1 AND retired_at IS NULL', [tenantId]);
        if (rows.length === 0) await this.insertNew(client, tenantId);
      },
      { lock: tenantKeysLock(tenantId) },
    );
    return this.load(tenantId);
  }

  /** Retires the current key and starts signing with a fresh one. */
  async rotate(tenantId: string): Promise<void> {
    await inTransaction(
      this.pool,
      async (client) => {
        await client.query('UPDATE login_signing_keys SET retired_at = now() WHERE tenant_id = $1 AND retired_at IS NULL', [tenantId]);
        await this.insertNew(client, tenantId);
      },
      { lock: tenantKeysLock(tenantId) },
    );
  }

  private async load(tenantId: string): Promise<PrivateJwk[]> {
    const { rows } = await this.pool.query<{ sealed_jwk: JsonValue }>(
      `SELECT sealed_jwk FROM login_signing_keys
       WHERE tenant_id = $1 AND (retired_at IS NULL OR retired_at > now() - make_interval(secs => $2::double precision))
       ORDER BY retired_at DESC NULLS FIRST, created_at DESC`,
      [tenantId, this.overlapMs / 1000],
    );
    const keys: PrivateJwk[] = [];
    for (const row of rows) {
      const { value, erased } = await this.codec.openValue(tenantId, row.sealed_jwk);
      if (!erased && value) keys.push(value as PrivateJwk);
    }
    return keys;
  }

  private async insertNew(client: { query: Pool['query'] }, tenantId: string): Promise<void> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomBytes(12).toString('base64url');
    const jwk = {
      ...(privateKey.export({ format: 'jwk' }) as Record<string, string>),
      kid,
      alg: 'ES256',
      use: 'sig',
    } as unknown as PrivateJwk;
    const sealed = await this.codec.sealValue(tenantId, SIGNING_KEYS_SUBJECT, jwk);
    await client.query('INSERT INTO login_signing_keys (tenant_id, kid, sealed_jwk, created_at) VALUES ($1, $2, $3, now())', [
      tenantId,
      kid,
      sealed,
    ]);
  }
}

/** Two replicas meeting a new tenant at once must not both create its first key. */
function tenantKeysLock(tenantId: string): string {
  return `login.signing-keys.${tenantId}`;
}
