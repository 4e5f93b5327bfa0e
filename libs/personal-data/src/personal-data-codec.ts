import type { JsonObject, JsonValue } from '#eventstore';
import { aes256Gcm, xChaCha20Poly1305, type Aead, type Sealed } from './aead';
import { PersonalDataIntegrityError } from './errors';
import { framed } from './framing';
import type { PersonalKeyStore } from './personal-key-store';

/** Which top-level fields of an event's data are personal, and whose they are. */
export interface PersonalDataSpec {
  subject(data: JsonObject): string;
  readonly fields: readonly string[];
}

/** The field of an event's data that holds its sealed personal fields. */
export const SEALED_FIELD = '$personal';

const FORMAT_VERSION = 1;
/** New seals use SEALING; envelopes name their cipher, so those sealed before it still open. */
const SEALING: Aead = xChaCha20Poly1305;
const OPENING: ReadonlyMap<string, Aead> = new Map([aes256Gcm, xChaCha20Poly1305].map((aead) => [aead.name, aead]));

/** A single JSON value sealed under its subject's key (stored as ordinary JSON). */
export type SealedValue = {
  subject: string;
  v: typeof FORMAT_VERSION;
  alg: Aead['name'];
  /** base64url nonce */
  iv: string;
  /** base64url ciphertext with the 16-byte authentication tag appended */
  ct: string;
};

/**
 * `$personal` of a sealed event. The field names stay in clear (they are schema, not personal
 * data) so that an erased event can still say which fields it had: they come back as null.
 */
export type SealedPersonalFields = SealedValue & { fields: string[] };

/**
 * Seals the personal fields of event data under the subject's data key, and opens them again.
 * Once the key is destroyed the fields read as null with `erased: true`; data that was altered or
 * moved to another tenant or subject fails with PersonalDataIntegrityError instead.
 */
export class PersonalDataCodec {
  constructor(private readonly keys: PersonalKeyStore) {}

  /**
   * Moves the personal fields present in `data` into one ciphertext at `data.$personal`. Data
   * without any of them is returned as is (and no key is created for it).
   * @throws SubjectErasedError when the subject was forgotten.
   */
  async seal(tenantId: string, spec: PersonalDataSpec, data: JsonObject): Promise<JsonObject> {
    if (Object.hasOwn(data, SEALED_FIELD)) throw new Error(`event data already contains ${SEALED_FIELD}; it must not be sealed twice`);
    const fields = [...new Set(spec.fields)].filter((field) => Object.hasOwn(data, field));
    if (fields.length === 0) return data;
    const subject = spec.subject(data);
    if (typeof subject !== 'string' || subject === '') throw new Error('the personal-data spec named no subject for this event');
    const personal: JsonObject = {};
    const rest: JsonObject = {};
    // Built key by key rather than copied and deleted from: objects that lose keys turn slow.
    for (const [field, value] of Object.entries(data)) {
      if (fields.includes(field)) personal[field] = value;
      else rest[field] = value;
    }
    const key = await this.keys.keyFor(tenantId, subject);
    const sealed = SEALING.seal(key, jsonBytes(personal), fieldsBinding(tenantId, subject, fields, SEALING));
    const envelope: SealedPersonalFields = { ...envelopeOf(subject, sealed), fields };
    return { ...rest, [SEALED_FIELD]: envelope };
  }

  /** Restores the sealed fields. Data without `$personal` passes through unchanged. */
  async open(tenantId: string, data: JsonObject): Promise<{ data: JsonObject; erased: boolean }> {
    if (!Object.hasOwn(data, SEALED_FIELD)) return { data, erased: false };
    const envelope = parseSealedFields(tenantId, data[SEALED_FIELD]);
    const fields = envelope.fields;
    const rest: JsonObject = { ...data };
    delete rest[SEALED_FIELD];
    const plaintext = await this.decrypt(tenantId, envelope, (aead) => fieldsBinding(tenantId, envelope.subject, fields, aead));
    if (plaintext === 'erased') {
      const nulls = Object.fromEntries(fields.map((field) => [field, null]));
      return { data: { ...rest, ...nulls }, erased: true };
    }
    const personal = parseJson(tenantId, plaintext);
    if (personal === null || typeof personal !== 'object' || Array.isArray(personal)) {
      throw new PersonalDataIntegrityError(tenantId, 'the sealed fields are not a JSON object');
    }
    return { data: { ...rest, ...personal }, erased: false };
  }

  /** Seals one JSON value (e.g. a tracked trait) under the subject's key. */
  async sealValue(tenantId: string, subject: string, value: JsonValue): Promise<SealedValue> {
    if (subject === '') throw new Error('a sealed value needs a subject');
    const key = await this.keys.keyFor(tenantId, subject);
    return envelopeOf(subject, SEALING.seal(key, jsonBytes(value), valueBinding(tenantId, subject, SEALING)));
  }

  /** Opens a value sealed by sealValue; null with `erased: true` once its subject was forgotten. */
  async openValue(tenantId: string, sealed: JsonValue): Promise<{ value: JsonValue; erased: boolean }> {
    const envelope = parseEnvelope(tenantId, sealed);
    const plaintext = await this.decrypt(tenantId, envelope, (aead) => valueBinding(tenantId, envelope.subject, aead));
    if (plaintext === 'erased') return { value: null, erased: true };
    return { value: parseJson(tenantId, plaintext), erased: false };
  }

  /** Whether the subject was forgotten (their key destroyed) in this tenant. */
  async isForgotten(tenantId: string, subject: string): Promise<boolean> {
    return (await this.keys.lookup(tenantId, subject)).status === 'erased';
  }

  /** Crypto-shreds everything ever sealed for the subject in this tenant. */
  forget(tenantId: string, subject: string): Promise<void> {
    return this.keys.destroy(tenantId, subject);
  }

  /** Another process forgot the subject (see KEY_DESTRUCTION_CHANNEL): drop this process's cached key. */
  evict(tenantId: string, subject: string): void {
    this.keys.evict(tenantId, subject);
  }

  private async decrypt(tenantId: string, envelope: SealedValue, binding: (aead: Aead) => Buffer): Promise<Buffer | 'erased'> {
    const found = await this.keys.lookup(tenantId, envelope.subject);
    if (found.status === 'erased') return 'erased';
    // Data exists only after its key did, so a missing key means the data came from elsewhere.
    if (found.status === 'unknown') throw new PersonalDataIntegrityError(tenantId, 'its subject has no data key in this tenant');
    const sealed: Sealed = { iv: strictBase64url(tenantId, envelope.iv, 'iv'), ct: strictBase64url(tenantId, envelope.ct, 'ct') };
    const aead = OPENING.get(envelope.alg)!;
    const plaintext = aead.open(found.key, sealed, binding(aead));
    if (!plaintext)
      throw new PersonalDataIntegrityError(tenantId, 'authentication failed (altered, or moved from another tenant or subject)');
    return plaintext;
  }
}

// Each binding names its purpose, so a sealed value cannot be passed off as sealed event fields,
// and its cipher, so an envelope's alg cannot be changed.
function fieldsBinding(tenantId: string, subject: string, fields: readonly string[], aead: Aead): Buffer {
  return framed('tessera/personal-data/fields/v1', tenantId, subject, aead.name, ...fields);
}

function valueBinding(tenantId: string, subject: string, aead: Aead): Buffer {
  return framed('tessera/personal-data/value/v1', tenantId, subject, aead.name);
}

function envelopeOf(subject: string, sealed: Sealed): SealedValue {
  return { subject, v: FORMAT_VERSION, alg: SEALING.name, iv: sealed.iv.toString('base64url'), ct: sealed.ct.toString('base64url') };
}

function jsonBytes(value: JsonValue): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function parseEnvelope(tenantId: string, value: JsonValue | undefined): SealedValue {
  const malformed = (what: string) => new PersonalDataIntegrityError(tenantId, `malformed envelope: ${what}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed('not an object');
  if (value.v !== FORMAT_VERSION) throw malformed(`unsupported version ${JSON.stringify(value.v)}`);
  const aead = typeof value.alg === 'string' ? OPENING.get(value.alg) : undefined;
  if (!aead) throw malformed(`unsupported algorithm ${JSON.stringify(value.alg)}`);
  const { subject, iv, ct } = value;
  if (typeof subject !== 'string' || subject === '') throw malformed('no subject');
  if (typeof iv !== 'string' || typeof ct !== 'string') throw malformed('iv and ct must be strings');
  return { subject, v: FORMAT_VERSION, alg: aead.name, iv, ct };
}

function parseSealedFields(tenantId: string, value: JsonValue | undefined): SealedPersonalFields {
  const envelope = parseEnvelope(tenantId, value);
  const fields = (value as JsonObject).fields;
  if (!Array.isArray(fields) || fields.length === 0 || !fields.every((field) => typeof field === 'string')) {
    throw new PersonalDataIntegrityError(tenantId, 'malformed envelope: fields must be a non-empty list of names');
  }
  return { ...envelope, fields: fields as string[] };
}

/** Node's decoder skips unknown characters; only the canonical encoding of some bytes is accepted. */
function strictBase64url(tenantId: string, text: string, name: string): Buffer {
  const bytes = /^[A-Za-z0-9_-]*$/.test(text) ? Buffer.from(text, 'base64url') : undefined;
  if (!bytes || bytes.toString('base64url') !== text)
    throw new PersonalDataIntegrityError(tenantId, `malformed envelope: ${name} is not base64url`);
  return bytes;
}

function parseJson(tenantId: string, bytes: Buffer): JsonValue {
  try {
    return JSON.parse(bytes.toString('utf8')) as JsonValue;
  } catch {
    throw new PersonalDataIntegrityError(tenantId, 'the sealed content is not JSON');
  }
}
