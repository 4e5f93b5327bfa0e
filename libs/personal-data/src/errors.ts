/**
 * Typed failures of the personal-data layer. Messages name tenants and subjects (pseudonymous ids)
 * but never key material or the personal values themselves.
 */

/** TESSERA_MASTER_KEY is missing or not 32 bytes in one of the accepted encodings. */
export class InvalidMasterKeyError extends Error {
  override readonly name = 'InvalidMasterKeyError';
}

/**
 * The subject's key was destroyed (GDPR erasure). Raised when something tries to encrypt new
 * personal data for them: re-creating a key would quietly undo the erasure for future events.
 */
export class SubjectErasedError extends Error {
  override readonly name = 'SubjectErasedError';
  constructor(
    readonly tenantId: string,
    readonly subjectId: string,
  ) {
    super(`personal data of subject ${subjectId} in tenant ${tenantId} was erased; no new personal data can be sealed for them`);
  }
}

/**
 * A stored data key did not authenticate under the key-wrapping key: the master key changed, or the
 * wrapped key was copied from another row. Never treated as erasure, because nobody asked for one.
 */
export class DataKeyUnwrapError extends Error {
  override readonly name = 'DataKeyUnwrapError';
  constructor(
    readonly tenantId: string,
    readonly subjectId: string,
  ) {
    super(`the data key of subject ${subjectId} in tenant ${tenantId} does not unwrap: wrong master key or a row that was tampered with`);
  }
}

/**
 * Sealed personal data that cannot be trusted: malformed, altered, or moved to another tenant or
 * subject. Distinct from erasure so that corruption is loud instead of looking like a GDPR request.
 */
export class PersonalDataIntegrityError extends Error {
  override readonly name = 'PersonalDataIntegrityError';
  constructor(
    readonly tenantId: string,
    readonly reason: string,
  ) {
    super(`sealed personal data in tenant ${tenantId} cannot be opened: ${reason}`);
  }
}
