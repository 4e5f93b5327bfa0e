import nodemailer, { type Transporter } from 'nodemailer';

export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** The same in the tenant's look, for clients that show HTML (the text part is always there). */
  readonly html?: string;
}

/** Where register's mails go: SMTP in production, the dev mailbox on a laptop and in tests. */
export abstract class Mailer {
  abstract send(mail: OutgoingMail): Promise<void>;
  abstract close(): Promise<void>;
}

export class SmtpMailer extends Mailer {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    super();
    this.transport = nodemailer.createTransport(smtpUrl);
  }

  async send(mail: OutgoingMail): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

export interface DeliveredMail extends OutgoingMail {
  readonly from: string;
  readonly deliveredAt: string;
}

/**
 * Keeps the last messages in memory for a developer (GET /dev/mailbox) and for tests. Addresses
 * were validated where they came in; nothing is rendered to MIME because nothing leaves the process.
 * The configuration refuses it in production (SMTP_URL is required there).
 */
export class DevMailbox extends Mailer {
  private readonly messages: DeliveredMail[] = [];

  constructor(
    private readonly from: string,
    private readonly capacity = 500,
  ) {
    super();
  }

  async send(mail: OutgoingMail): Promise<void> {
    this.messages.push({ ...mail, from: this.from, deliveredAt: new Date().toISOString() });
    if (this.messages.length > this.capacity) this.messages.splice(0, this.messages.length - this.capacity);
  }

  /** Newest first, optionally only those sent to one address. */
  list(to?: string): DeliveredMail[] {
    const wanted = to?.trim().toLowerCase();
    return this.messages.filter((m) => !wanted || m.to.toLowerCase() === wanted).reverse();
  }

  async close(): Promise<void> {
    this.messages.length = 0;
  }
}
