import { createHmac } from 'node:crypto';
import { secretKeyObject } from './key-objects';
import { framed } from './framing';

/** What a blind index is taken of; each kind has its own normalisation and its own index space. */
export type BlindIndexKind = 'email' | (string & {});

/**
 * The form of an e-mail address that identifies a person within Tessera: surrounding whitespace
 * removed, lower-cased, Unicode NFC (so a composed and a decomposed "é" are one address).
 *
 * We deliberately do NOT remove dots or "+tags" from the local part: only some providers (e.g.
 * Gmail) ignore them, and for every other domain "a.b@" and "ab@" may be different people.
 * Lower-casing the local part is a (universal in practice) assumption RFC 5321 does not make.
 */
export function normaliseEmail(email: string): string {
  return email.trim().normalize('NFC').toLowerCase().normalize('NFC');
}

const NORMALISERS: Readonly<Record<string, (value: string) => string>> = {
  email: normaliseEmail,
};

/**
 * A keyed, deterministic pseudonym of a personal value: usable as a stream-name suffix or lookup key
 * without storing the value. Scoped by tenant (the same address in two tenants gives two unrelated
 * indexes) and by kind. Values of kinds without a dedicated normaliser are only NFC-normalised.
 *
 * Deterministic by design, so it reveals equality: keep it to values that must be looked up.
 */
export function blindIndex(indexKey: Buffer, tenantId: string, kind: BlindIndexKind, value: string): string {
  const normalise = NORMALISERS[kind] ?? ((text: string) => text.normalize('NFC'));
  return createHmac('sha256', secretKeyObject(indexKey))
    .update(framed('tessera/blind-index/v1', tenantId, kind, normalise(value)))
    .digest('base64url');
}
