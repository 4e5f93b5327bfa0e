import { randomBytes } from 'node:crypto';
import { LIVE_TICKET_TTL_MS, LiveTickets, liveTicketKeyOf } from './live-tickets';

const TENANT = '0193b5a4-7c1e-7d2a-9f00-000000000001';
const OTHER = '0193b5a4-7c1e-7d2a-9f00-000000000002';
const ISSUED = new Date('2026-12-06T10:00:00Z');
const later = (ms: number) => new Date(ISSUED.getTime() + ms);

describe('live-view tickets', () => {
  const masterKey = randomBytes(32);
  const tickets = new LiveTickets(liveTicketKeyOf(masterKey));

  test('a ticket admits its tenant until it expires, a minute after it was issued, and not a moment longer', () => {
    const { ticket, expiresAt } = tickets.issue(TENANT, ISSUED);
    expect(expiresAt).toBe(later(LIVE_TICKET_TTL_MS).toISOString());
    expect(tickets.admits(ticket, TENANT, ISSUED)).toBe(true);
    expect(tickets.admits(ticket, TENANT, later(LIVE_TICKET_TTL_MS - 1))).toBe(true);
    expect(tickets.admits(ticket, TENANT, later(LIVE_TICKET_TTL_MS))).toBe(false);
  });

  test('a ticket admits no other tenant', () => {
    const { ticket } = tickets.issue(TENANT, ISSUED);
    expect(tickets.admits(ticket, OTHER, ISSUED)).toBe(false);
  });

  test('a ticket whose expiry was pushed back, or whose signature was changed, admits no one', () => {
    const { ticket } = tickets.issue(TENANT, ISSUED);
    const [expires, mac] = ticket.split('.') as [string, string];
    expect(tickets.admits(`${Number(expires) + 3_600_000}.${mac}`, TENANT, ISSUED)).toBe(false);
    const flipped = mac[0] === 'A' ? `B${mac.slice(1)}` : `A${mac.slice(1)}`;
    expect(tickets.admits(`${expires}.${flipped}`, TENANT, ISSUED)).toBe(false);
    for (const malformed of ['', expires, `${expires}.`, `${expires}.${mac}x`, `-1.${mac}`, 42, null, [ticket]]) {
      expect(tickets.admits(malformed, TENANT, ISSUED)).toBe(false);
    }
  });

  test('any replica with the same master key accepts a ticket; one with another master key does not', () => {
    const { ticket } = tickets.issue(TENANT, ISSUED);
    expect(new LiveTickets(liveTicketKeyOf(Buffer.from(masterKey))).admits(ticket, TENANT, ISSUED)).toBe(true);
    expect(new LiveTickets(liveTicketKeyOf(randomBytes(32))).admits(ticket, TENANT, ISSUED)).toBe(false);
  });
});
