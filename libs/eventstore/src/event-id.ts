import { randomFillSync } from 'node:crypto';

// Random bits come from a pool of CSPRNG bytes rather than one draw per id, which showed in pulse's
// ingest profile (a few µs an event). Event ids must be unique, not secret.
const IDS_PER_POOL = 256;
let randomPool = Buffer.alloc(0);
let poolOffset = 0;
// Within one millisecond ids count up from a random start (RFC 9562's method 1, as the uuid
// package's v7 does), so inserts into the unique event_id index stay at its right edge.
let lastMs = -Infinity;
let sequence = 0;

/**
 * A UUIDv7 (RFC 9562): 48 bits of milliseconds, a 31-bit counter within the millisecond, then
 * random bits. Ids made by one process sort in the order they were made.
 */
export function newEventId(): string {
  if (poolOffset + 16 > randomPool.length) {
    randomPool = randomFillSync(Buffer.allocUnsafe(16 * IDS_PER_POOL));
    poolOffset = 0;
  }
  // The pool's slice is handed out once, so it can be written in place.
  const bytes = randomPool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    sequence = bytes.readUInt32BE(6) & 0x7fffffff;
  } else {
    sequence = (sequence + 1) | 0;
    // The counter ran over: borrow the next millisecond.
    if (sequence === 0) lastMs += 1;
  }
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | ((sequence >>> 28) & 0x0f);
  bytes[7] = (sequence >>> 20) & 0xff;
  bytes[8] = 0x80 | ((sequence >>> 14) & 0x3f);
  bytes[9] = (sequence >>> 6) & 0xff;
  bytes[10] = ((sequence << 2) & 0xfc) | (bytes[10]! & 0x03);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
