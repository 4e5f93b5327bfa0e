import type { Branding, Locale } from '#platform';
import type { EventStore } from '#eventstore';

/** Injection tokens for what register's capabilities share. */
export const EVENT_STORE = Symbol('EventStore');
export type { EventStore };

export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

/** Keyed hash of a normalised e-mail: how register finds an address without storing it in clear. */
export abstract class EmailIndex {
  abstract of(tenantId: string, email: string): string;
}

export interface RegisterSettings {
  readonly verificationTokenTtlMs: number;
  readonly resetTokenTtlMs: number;
  /** Where links in mails point (the customer's app or register itself). */
  readonly publicUrl: string;
  /** The language of pages and mails when neither the person nor the request names a supported one. */
  readonly defaultLocale: Locale;
}
export const REGISTER_SETTINGS = Symbol('RegisterSettings');

export interface TenantRef {
  readonly tenantId: string;
  readonly slug: string;
  readonly name: string;
  /** How its pages and mails look, and their default language (NO_BRANDING when it set none). */
  readonly branding: Branding;
}

/** Destroys a person's key: everything sealed under it becomes unreadable (crypto-shredding). */
export abstract class PersonalDataEraser {
  abstract forget(tenantId: string, subjectId: string): Promise<void>;
}
