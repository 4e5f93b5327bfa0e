import { Controller, Get, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ProblemError } from '#platform';
import { TenantAccess } from '../access/tenant-access';
import { DevMailbox } from './mailer';

/**
 * The developer's inbox: every verification and reset link register sent. Mounted only when the
 * dev mailbox is the mailer (no SMTP_URL, which production requires). Even then it answers only a
 * request from this machine carrying the admin token; anything else gets the very 404 a missing
 * route gets, so a scan cannot tell the mailbox is there.
 */
@Controller('dev/mailbox')
export class DevMailboxController {
  constructor(
    private readonly mailbox: DevMailbox,
    private readonly access: TenantAccess,
  ) {}

  @Get()
  list(@Req() request: FastifyRequest, @Query('to') to?: string) {
    if (!this.mayRead(request)) {
      throw new ProblemError({
        status: 404,
        type: 'route-not-found',
        title: 'Route not found',
        detail: 'No route serves GET /dev/mailbox',
      });
    }
    return { messages: this.mailbox.list(typeof to === 'string' ? to : undefined) };
  }

  /**
   * Loopback twice over: the socket's peer, and the client address TRUST_PROXY derives (a proxy on
   * this machine forwarding a remote caller is not this machine).
   */
  private mayRead(request: FastifyRequest): boolean {
    if (!isLoopback(request.socket.remoteAddress) || !isLoopback(request.ip)) return false;
    try {
      this.access.requireAdmin(request);
      return true;
    } catch {
      return false;
    }
  }
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.exec(address);
  if (v4) return v4[1] === '127';
  return address === '::1';
}
