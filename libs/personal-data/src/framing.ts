/**
 * Unambiguous concatenation for MAC inputs and associated data: each part is preceded by its byte
 * length, so ('a.b', 'c') and ('a', 'b.c') can never produce the same bytes.
 */
export function framed(...parts: readonly (string | number)[]): Buffer {
  const texts = parts.map(String);
  const lengths = texts.map((text) => Buffer.byteLength(text, 'utf8'));
  // One allocation: this runs for every value sealed or opened.
  const out = Buffer.allocUnsafe(lengths.reduce((sum, length) => sum + 4 + length, 0));
  let offset = 0;
  texts.forEach((text, index) => {
    offset = out.writeUInt32BE(lengths[index]!, offset);
    offset += out.write(text, offset, 'utf8');
  });
  return out;
}
