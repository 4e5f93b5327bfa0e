import { createHmac } from 'node:crypto';
import { LoginJwksVerifier } from '#access';
import { ServiceInfrastructure } from '#cqrs';
import { platformOptionsFromEnv, type ServiceOptions } from '#platform';
import { AccessTokenVerifier, NoAccessTokens } from './access/access-token';
import { TestTokenVerifier } from './access/testing/test-tokens';
import { accountEvents, erasureEvents, exportEvents, tenantEvents } from '#contracts';
import { reservationEvents } from './account/email-reservation';
import { FileErasureLedger, NoErasureLedger } from './erasure/erasure-ledger';
import { DevMailbox, SmtpMailer, type Mailer } from './mail/mailer';
import { ProfileRow } from './profile/profile.entity';
import { registerApi } from './register.api';
import type { RegisterConfig } from './register.config';
import type { RegisterRuntime } from './register.module';
import {
  RegisterReadModels1732350000000,
  RegisterTenantBranding1765520000000,
  RegisterExports1765600000000,
  RegisterExportsPending1765680000000,
  RegisterTenantKeys1765200000000,
} from './register.migrations';
import { RegisterRequestLimits1765000000000 } from './request-limits/request-limits.migrations';
import { TenantRow } from './tenants/tenant.entity';

/** Register's schema migrations, every release's (TypeORM runs them in the order of their timestamps). */
export const registerMigrations = [
  RegisterReadModels1732350000000,
  RegisterRequestLimits1765000000000,
  RegisterTenantKeys1765200000000,
  RegisterTenantBranding1765520000000,
  RegisterExports1765600000000,
  RegisterExportsPending1765680000000,
];

/** Opens what register runs on, as its configuration says. */
export async function openRegisterRuntime(config: RegisterConfig): Promise<RegisterRuntime> {
  const infrastructure = await ServiceInfrastructure.connect({
    service: 'register',
    poolSize: config.DATABASE_POOL_SIZE,
    migrate: config.MIGRATE,
    wakeOtherProcesses: config.EVENTSTORE_WAKE === 'notify',
    databaseUrl: config.DATABASE_URL,
    eventstoreUrl: config.EVENTSTORE_URL,
    masterKey: config.TESSERA_MASTER_KEY,
    entities: [TenantRow, ProfileRow],
    migrations: registerMigrations,
    events: [...accountEvents, ...reservationEvents, ...tenantEvents, ...erasureEvents, ...exportEvents],
  });
  const mailer: Mailer = config.SMTP_URL ? new SmtpMailer(config.SMTP_URL, config.MAIL_FROM) : new DevMailbox(config.MAIL_FROM);
  const accessTokens = accessTokensOf(config);
  return {
    infrastructure,
    mailer,
    accessTokens,
    adminToken: config.ADMIN_TOKEN,
    erasureLedger: config.ERASURE_LEDGER_DIR ? new FileErasureLedger(config.ERASURE_LEDGER_DIR) : new NoErasureLedger(),
    settings: {
      verificationTokenTtlMs: config.VERIFICATION_TOKEN_TTL_MS,
      resetTokenTtlMs: config.RESET_TOKEN_TTL_MS,
      publicUrl: (config.REGISTER_PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, ''),
      defaultLocale: config.DEFAULT_LOCALE,
    },
    maxProjectionLagMs: config.READY_MAX_PROJECTION_LAG_MS,
    requestLimits: {
      windowMs: config.REGISTER_LIMIT_WINDOW_MS,
      signUpsPerAddress: config.REGISTER_SIGNUPS_PER_ADDRESS,
      signUpsPerEmail: config.REGISTER_SIGNUPS_PER_EMAIL,
      resetsPerAddress: config.REGISTER_RESETS_PER_ADDRESS,
      resetsPerEmail: config.REGISTER_RESETS_PER_EMAIL,
      tokenAttemptsPerAddress: config.REGISTER_TOKEN_ATTEMPTS_PER_ADDRESS,
      tokenAttemptsPerAccount: config.REGISTER_TOKEN_ATTEMPTS_PER_ACCOUNT,
    },
    hashesPerTenant: config.REGISTER_HASHES_PER_TENANT,
    exports: {
      linkTtlMs: config.EXPORT_LINK_TTL_MS,
      sweepIntervalMs: config.EXPORT_SWEEP_INTERVAL_MS,
      maxOpenPerTenant: config.EXPORT_MAX_OPEN_PER_TENANT,
      sectionUrls: {
        login: config.LOGIN_INTERNAL_URL ?? config.LOGIN_PUBLIC_URL,
        pulse: config.PULSE_INTERNAL_URL,
        rewards: config.REWARDS_INTERNAL_URL,
      },
    },
    pages: {
      formKey: createHmac('sha256', config.TESSERA_MASTER_KEY).update('tessera/register/page-forms').digest(),
      continueBase: config.LOGIN_PUBLIC_URL?.replace(/\/$/, ''),
    },
  };
}

/** Login's tokens when LOGIN_PUBLIC_URL names login; test tokens only where the config allows them; otherwise none. */
function accessTokensOf(config: RegisterConfig): AccessTokenVerifier {
  if (config.LOGIN_PUBLIC_URL) return new LoginJwksVerifier(config.LOGIN_PUBLIC_URL, { jwksBaseUrl: config.LOGIN_INTERNAL_URL });
  if (config.REGISTER_TEST_TOKEN_SECRET) return new TestTokenVerifier(config.REGISTER_TEST_TOKEN_SECRET);
  return new NoAccessTokens();
}

export function registerServiceOptions(config: RegisterConfig): ServiceOptions {
  return { serviceName: 'register', api: registerApi, ...platformOptionsFromEnv(config) };
}
