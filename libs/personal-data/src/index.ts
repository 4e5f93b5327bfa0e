export { deriveKeys, MASTER_KEY_VARIABLE, parseMasterKey, type PersonalDataKeys } from './master-key';
export { blindIndex, normaliseEmail, type BlindIndexKind } from './blind-index';
export { KEY_DESTRUCTION_CHANNEL, PersonalKeyStore, type DataKeyLookup, type PersonalKeyStoreOptions } from './personal-key-store';
export { PersonalDataCodec, SEALED_FIELD, type PersonalDataSpec, type SealedPersonalFields, type SealedValue } from './personal-data-codec';
export { DataKeyUnwrapError, InvalidMasterKeyError, PersonalDataIntegrityError, SubjectErasedError } from './errors';
