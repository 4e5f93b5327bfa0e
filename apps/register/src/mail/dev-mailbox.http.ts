import { Controller, Get, Query } from '@nestjs/common';
import { DevMailbox } from './mailer';

/** Only mounted when the dev mailbox is the mailer (no SMTP_URL, not production). */
@Controller('dev/mailbox')
export class DevMailboxController {
  constructor(private readonly mailbox: DevMailbox) {}

  @Get()
  list(@Query('to') to?: string) {
    return { messages: this.mailbox.list(to) };
  }
}
