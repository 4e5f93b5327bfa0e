import { z } from 'zod';
import { serviceEnvSchema } from '#cqrs';
import { durationMs, integer, loadConfig, SUPPORTED_LOCALES, url } from '#platform';

/** A request limit: requests per REGISTER_LIMIT_WINDOW_MS. */
const perWindow = (fallback: number) => integer({ min: 1, max: 1_000_000, what: 'a number of requests' }).default(fallback);

const schema = serviceEnvSchema({ port: 3002 })
  .extend({
    SMTP_URL: url({ protocols: ['smtp:', 'smtps:'] }).optional(),
    MAIL_FROM: z.string().default('Tessera <no-reply@tessera.local>'),
    REGISTER_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    /** Login's issuer base: /t/{tenant}/me accepts login's access tokens with iss `{LOGIN_PUBLIC_URL}/t/{tenant}`. */
    LOGIN_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    /** Where to fetch login's key sets when LOGIN_PUBLIC_URL is not reachable from here (inside a cluster); defaults to it. */
    LOGIN_INTERNAL_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    /** Where register fetches pulse's and rewards' sections of an export (their internal addresses); login's is LOGIN_INTERNAL_URL, else LOGIN_PUBLIC_URL. */
    PULSE_INTERNAL_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    REWARDS_INTERNAL_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    /** How long an export's download link lasts once every section is ready; the export is destroyed after. */
    EXPORT_LINK_TTL_MS: durationMs({ max: 30 * 24 * 3600 * 1000 }).default(24 * 3600 * 1000),
    /** How often expired exports nobody came back for are destroyed (key and every service's part). */
    EXPORT_SWEEP_INTERVAL_MS: durationMs({ max: 24 * 3600 * 1000 }).default(5 * 60_000),
    /** Exports one tenant may have open at once (asked and not yet expired or discarded): each costs every service work and storage. */
    EXPORT_MAX_OPEN_PER_TENANT: z.coerce.number().int().min(1).max(100_000).default(200),
    REGISTER_TEST_TOKEN_SECRET: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
    VERIFICATION_TOKEN_TTL_MS: durationMs({ max: 30 * 24 * 3600 * 1000 }).default(48 * 3600 * 1000),
    RESET_TOKEN_TTL_MS: durationMs({ max: 24 * 3600 * 1000 }).default(3600 * 1000),
    /** Pages and mails in this language when neither the person nor the request names a supported one. */
    DEFAULT_LOCALE: z.enum(SUPPORTED_LOCALES).default('en'),
    // Request limits, shared by every replica through PostgreSQL (see request-limits/). Per client
    // network (TRUST_PROXY decides the address) and per e-mail address or account, over a sliding window.
    REGISTER_LIMIT_WINDOW_MS: integer({ min: 1000, max: 24 * 3600 * 1000, what: 'a duration in milliseconds' }).default(15 * 60 * 1000),
    REGISTER_SIGNUPS_PER_ADDRESS: perWindow(50),
    REGISTER_SIGNUPS_PER_EMAIL: perWindow(5),
    REGISTER_RESETS_PER_ADDRESS: perWindow(20),
    /** Past it, reset requests still answer 202 but mail nothing. */
    REGISTER_RESETS_PER_EMAIL: perWindow(3),
    /** Attempts with a mailed token: e-mail verifications and password-reset confirmations. */
    REGISTER_TOKEN_ATTEMPTS_PER_ADDRESS: perWindow(30),
    REGISTER_TOKEN_ATTEMPTS_PER_ACCOUNT: perWindow(10),
    /** argon2id hashes one tenant may have in flight in one process; more get 429 (tenant fairness). */
    REGISTER_HASHES_PER_TENANT: integer({ min: 1, max: 1000 }).default(8),
    /**
     * The erasure ledger's directory, on a volume outside the database's backups (see
     * erasure/erasure-ledger.ts): every erasure request is recorded there before it is logged.
     * Unset, nothing is recorded and a restored backup may bring back people erased since.
     */
    ERASURE_LEDGER_DIR: z.string().min(1).optional(),
    /** `only`: run the recovery step after a restore (re-apply the ledger's erasures) and exit: the recovery Job's command. */
    RECOVER: z.enum(['only']).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.REGISTER_TEST_TOKEN_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['REGISTER_TEST_TOKEN_SECRET'], message: 'test tokens are refused in production: unset it' });
    }
    // Without SMTP the dev mailbox would hold, and serve at /dev/mailbox, every verification and reset link.
    if (env.NODE_ENV === 'production' && !env.SMTP_URL) {
      ctx.addIssue({ code: 'custom', path: ['SMTP_URL'], message: 'required in production (the dev mailbox is for laptops and tests)' });
    }
    if (env.LOGIN_PUBLIC_URL && env.REGISTER_TEST_TOKEN_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['REGISTER_TEST_TOKEN_SECRET'],
        message: 'access tokens come from login when LOGIN_PUBLIC_URL is set: unset it',
      });
    }
    if (env.RECOVER === 'only' && !env.ERASURE_LEDGER_DIR) {
      ctx.addIssue({ code: 'custom', path: ['ERASURE_LEDGER_DIR'], message: 'the recovery re-applies the ledger: set where it is' });
    }
    if (env.LOGIN_INTERNAL_URL && !env.LOGIN_PUBLIC_URL) {
      ctx.addIssue({ code: 'custom', path: ['LOGIN_INTERNAL_URL'], message: 'needs LOGIN_PUBLIC_URL (the issuer tokens carry)' });
    }
  });

export type RegisterConfig = z.output<typeof schema>;

/** Register's configuration, from the environment, validated once at start-up. */
export function loadRegisterConfig(env: Readonly<Record<string, string | undefined>> = process.env): RegisterConfig {
  return loadConfig(schema, env);
}
