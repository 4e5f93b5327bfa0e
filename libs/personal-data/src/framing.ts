/**
 * Unambiguous concatenation for MAC inputs and associated data: each part is preceded by its byte
 * length, so ('a.b', 'c') and ('a', 'b.c') can never produce the same bytes.
 */
export function framed(...parts: readonly (string | number)[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const bytes = Buffer.from(String(part), 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    chunks.push(length, bytes);
  }
  return Buffer.concat(chunks);
}
