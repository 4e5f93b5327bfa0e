import { ServiceInfrastructure } from '../../../libs/cqrs/src/service-infrastructure';
import type { ServiceOptions } from '../../../libs/platform/src/service-app';
import { AccessTokenVerifier, NoAccessTokens, TestTokenVerifier } from './access/access-token';
import { accountEvents } from './account/account.events';
import { reservationEvents } from './account/email-reservation';
import { DevMailbox, SmtpMailer, type Mailer } from './mail/mailer';
import { ProfileRow } from './profile/profile.entity';
import { registerApi } from './register.api';
import type { RegisterConfig } from './register.config';
import type { RegisterRuntime } from './register.module';
import { RegisterReadModels1732350000000 } from './register.schema';
import { tenantEvents } from './tenants/tenant.events';
import { TenantRow } from './tenants/tenant.entity';

/** Opens what register runs on, as its configuration says. */
export async function openRegisterRuntime(
  config: RegisterConfig,
  overrides: { accessTokens?: AccessTokenVerifier } = {},
): Promise<RegisterRuntime> {
  const infrastructure = await ServiceInfrastructure.connect({
    service: 'register',
    databaseUrl: config.DATABASE_URL,
    eventstoreUrl: config.EVENTSTORE_URL,
    masterKey: config.TESSERA_MASTER_KEY,
    entities: [TenantRow, ProfileRow],
    migrations: [RegisterReadModels1732350000000],
    events: [...accountEvents, ...reservationEvents, ...tenantEvents],
  });
  const mailer: Mailer = config.SMTP_URL
    ? new SmtpMailer(config.SMTP_URL, config.MAIL_FROM)
    : new DevMailbox(config.MAIL_FROM);
  const accessTokens =
    overrides.accessTokens ?? (config.REGISTER_TEST_TOKEN_SECRET ? new TestTokenVerifier(config.REGISTER_TEST_TOKEN_SECRET) : new NoAccessTokens());
  return {
    infrastructure,
    mailer,
    accessTokens,
    adminToken: config.ADMIN_TOKEN,
    settings: {
      verificationTokenTtlMs: config.VERIFICATION_TOKEN_TTL_MS,
      resetTokenTtlMs: config.RESET_TOKEN_TTL_MS,
      publicUrl: (config.REGISTER_PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, ''),
    },
    maxProjectionLagMs: config.READY_MAX_PROJECTION_LAG_MS,
  };
}

export function registerServiceOptions(config: RegisterConfig): ServiceOptions {
  return {
    serviceName: 'register',
    api: registerApi,
    logLevel: config.LOG_LEVEL,
    http: { host: config.HOST, port: config.PORT, bodyLimitBytes: config.BODY_LIMIT_BYTES, trustProxy: config.TRUST_PROXY },
    shutdown: { drainDelayMs: config.SHUTDOWN_DRAIN_MS },
  };
}
