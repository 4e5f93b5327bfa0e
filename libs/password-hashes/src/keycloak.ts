import { z } from 'zod';
import { legacyHashShapes, legacyPasswordHash, type LegacyPasswordHash } from './legacy-hash';

/**
 * A password credential as Keycloak's realm export writes it (`users[].credentials[]`): the hash
 * and salt in `secretData`, the algorithm and its parameters in `credentialData`, each a JSON
 * document inside a string. An import may send it as it is, `{ format: 'keycloak', credential }`;
 * it is read into the format it names (pbkdf2-sha256, pbkdf2-sha512 or argon2) and kept as that.
 */
const secretData = z.object({ value: z.string(), salt: z.string() });

const credentialData = z.object({
  algorithm: z.string(),
  hashIterations: z.number().int(),
  additionalParameters: z.record(z.string(), z.array(z.string())).optional(),
});

const keycloakCredential = z.object({
  type: z.literal('password', { message: 'only password credentials hold a password hash' }),
  secretData: z.string().max(4096),
  credentialData: z.string().max(4096),
});

const keycloakInput = z.object({ format: z.literal('keycloak'), credential: keycloakCredential.loose() }).strict();

/** Keycloak's credential alone, read into the hash it holds. */
export const keycloakPasswordHash = keycloakInput.transform(fromKeycloak);

/**
 * What an import may send as a password: one of the legacy formats, or Keycloak's export
 * credential as it is, which reads into one of them. Either way the result is a LegacyPasswordHash.
 */
export const importedPasswordHash = z
  .discriminatedUnion('format', [...legacyHashShapes, keycloakInput])
  .transform((value, context): LegacyPasswordHash => (value.format === 'keycloak' ? fromKeycloak(value, context) : value));

function fromKeycloak(value: z.infer<typeof keycloakInput>, context: z.RefinementCtx): LegacyPasswordHash {
  const secret = secretData.safeParse(jsonOf(value.credential.secretData));
  const data = credentialData.safeParse(jsonOf(value.credential.credentialData));
  if (!secret.success || !data.success) {
    context.addIssue({
      code: 'custom',
      path: ['credential', secret.success ? 'credentialData' : 'secretData'],
      message: 'must be the JSON Keycloak exports',
    });
    return z.NEVER;
  }
  const converted = legacyPasswordHash.safeParse(asLegacyHash(secret.data, data.data));
  if (!converted.success) {
    for (const issue of converted.error.issues) {
      context.addIssue({ code: 'custom', path: ['credential', ...issue.path.map(String)], message: issue.message });
    }
    return z.NEVER;
  }
  return converted.data;
}

function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function asLegacyHash(secret: z.infer<typeof secretData>, data: z.infer<typeof credentialData>): unknown {
  if (data.algorithm === 'pbkdf2-sha256' || data.algorithm === 'pbkdf2-sha512') {
    return { format: data.algorithm, salt: secret.salt, iterations: data.hashIterations, hash: secret.value };
  }
  if (data.algorithm === 'argon2') {
    // Keycloak keeps argon2's parameters apart and its salt and hash as raw bytes: the PHC string says the same.
    const parameter = (name: string) => data.additionalParameters?.[name]?.[0];
    const type = parameter('type') === 'i' ? 'argon2i' : parameter('type') === 'id' || parameter('type') === undefined ? 'argon2id' : '';
    const version = parameter('version') === '1.0' ? 16 : 19;
    const unpadded = (b64: string) => b64.replace(/=+$/, '');
    const phc = `$${type}$v=${version}$m=${parameter('memory') ?? 7168},t=${data.hashIterations},p=${parameter('parallelism') ?? 1}$${unpadded(secret.salt)}$${unpadded(secret.value)}`;
    return { format: type || 'argon2d', hash: phc };
  }
  return { format: data.algorithm };
}
