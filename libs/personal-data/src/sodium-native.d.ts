// sodium-native ships no types; these are the calls this layer makes, as its index.js defines them.
declare module 'sodium-native' {
  const sodium: {
    readonly crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
    readonly crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number;
    /** Writes ciphertext and tag into `c` (plaintext length + ABYTES). */
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      c: Uint8Array,
      m: Uint8Array,
      ad: Uint8Array | null,
      nsec: null,
      npub: Uint8Array,
      k: Uint8Array,
    ): number;
    /** Writes the plaintext into `m`; throws when the ciphertext does not verify. */
    crypto_aead_xchacha20poly1305_ietf_decrypt(
      m: Uint8Array,
      nsec: null,
      c: Uint8Array,
      ad: Uint8Array | null,
      npub: Uint8Array,
      k: Uint8Array,
    ): number;
  };
  export default sodium;
}
