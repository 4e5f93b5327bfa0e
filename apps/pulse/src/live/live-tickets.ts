import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** How long a ticket opens the live view: long enough to connect, short enough not to matter in a log. */
export const LIVE_TICKET_TTL_MS = 60_000;

// A versioned label of its own: this key signs tickets and nothing else (see deriveKeys in #personal-data).
const LIVE_TICKET_INFO = 'tessera/pulse/live-ticket/v1';
const TICKET = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/;

/** The ticket key from the master key (HKDF-SHA256, as every key derived from it). */
export function liveTicketKeyOf(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), LIVE_TICKET_INFO, 32));
}

export interface LiveTicket {
  readonly ticket: string;
  readonly expiresAt: string;
}

/**
 * Short-lived permission to watch one tenant's live view. EventSource cannot send an Authorization
 * header, and an api key in a URL ends up in browser history, proxies and referrers; a ticket there
 * is worth a minute of one tenant's live view and nothing else. It is `expiry.HMAC(tenant, expiry)`
 * under a key derived from TESSERA_MASTER_KEY: nothing is stored, and any replica checks what
 * another issued. Time comes in from the caller.
 */
export class LiveTickets {
  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number = LIVE_TICKET_TTL_MS,
  ) {}

  issue(tenantId: string, now: Date): LiveTicket {
    const expires = now.getTime() + this.ttlMs;
    return { ticket: `${expires}.${this.mac(tenantId, expires).toString('base64url')}`, expiresAt: new Date(expires).toISOString() };
  }

  /** Whether the ticket was issued for this tenant and has not expired at `now`; constant time in the MAC. */
  admits(ticket: unknown, tenantId: string, now: Date): boolean {
    const match = typeof ticket === 'string' ? TICKET.exec(ticket) : null;
    if (!match) return false;
    const expires = Number(match[1]);
    const presented = Buffer.from(match[2]!, 'base64url');
    const expected = this.mac(tenantId, expires);
    return presented.length === expected.length && timingSafeEqual(presented, expected) && now.getTime() < expires;
  }

  private mac(tenantId: string, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`live-view\n${tenantId.toLowerCase()}\n${expires}`).digest();
  }
}
