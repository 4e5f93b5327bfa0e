import { createHmac } from 'node:crypto';
import { ServiceInfrastructure, type CommandRunnerOptions } from '#cqrs';
import { platformOptionsFromEnv, type ServiceOptions } from '#platform';
import { accountEvents, erasureEvents, exportEvents, tenantEvents } from '#contracts';
import { clientEvents } from './clients/client.events';
import { loginApi } from './login.api';
import type { LoginConfig } from './login.config';
import {
  LoginLegacyPasswords1765900000000,
  LoginSessionsByAccount1765530000000,
  LoginAccountStateLocked1766100000000,
  LoginTables1732400000000,
  LoginTenantBranding1765520000001,
  LoginExportParts1765600000001,
  LoginExportsPending1765680000001,
} from './login.migrations';
import type { ProviderSettings } from './oidc/provider-factory';
import type { Journeys } from './sign-in/journeys';
import type { SignInPolicy } from './sign-in/password-check';
import { factorEvents } from './mfa/factors.events';
import { policyEvents } from './mfa/policy';
import { signInEvents } from './sign-in/sign-in.events';

/** What login runs on, opened by main (or a test) before the module is built. */
export interface LoginRuntime {
  readonly infrastructure: ServiceInfrastructure;
  /** The read-model database, for the connection that listens to client change notices. */
  readonly databaseUrl: string;
  readonly adminToken: string;
  readonly provider: ProviderSettings;
  readonly signIn: SignInPolicy;
  readonly providerCacheSize: number;
  readonly clientCacheSize: number;
  readonly csrfSecret: Buffer;
  /** Seals passkey sign-in challenges (SignInChallenges): every replica must hold the same. */
  readonly passkeyChallengeSecret: Buffer;
  readonly journeys: Journeys;
  readonly maxProjectionLagMs: number;
  /** Requests one tenant may have in flight in this process: sign-in posts, and OpenID requests. */
  readonly perTenantInFlight: { readonly signIns: number; readonly oidcRequests: number };
}

/** A key for one purpose, derived from the master key so login needs no extra secret. */
function derivedKey(masterKey: Buffer, purpose: string): Buffer {
  return createHmac('sha256', masterKey).update(`tessera/login/${purpose}`).digest();
}

/**
 * A person's second factors and sign-in attempts grow by an event at every sign-in (a code used,
 * a passkey's counter): their folded states stay in memory, so a sign-in reads only what another
 * replica appended since (or nothing, when deciding: the expected revision catches a stale state).
 */
const LOGIN_COMMANDS: CommandRunnerOptions = { cachedStreams: 20_000 };

/** Login's schema migrations, every release's (TypeORM runs them in the order of their timestamps). */
export const loginMigrations = [
  LoginTables1732400000000,
  LoginLegacyPasswords1765900000000,
  LoginTenantBranding1765520000001,
  LoginSessionsByAccount1765530000000,
  LoginExportParts1765600000001,
  LoginExportsPending1765680000001,
  LoginAccountStateLocked1766100000000,
];

export async function openLoginRuntime(config: LoginConfig): Promise<LoginRuntime> {
  const infrastructure = await ServiceInfrastructure.connect({
    service: 'login',
    poolSize: config.DATABASE_POOL_SIZE,
    migrate: config.MIGRATE,
    wakeOtherProcesses: config.EVENTSTORE_WAKE === 'notify',
    databaseUrl: config.DATABASE_URL,
    eventstoreUrl: config.EVENTSTORE_URL,
    masterKey: config.TESSERA_MASTER_KEY,
    entities: [],
    migrations: loginMigrations,
    events: [
      ...accountEvents,
      ...tenantEvents,
      ...erasureEvents,
      ...exportEvents,
      ...clientEvents,
      ...signInEvents,
      ...factorEvents,
      ...policyEvents,
    ],
    commands: LOGIN_COMMANDS,
  });
  const publicUrl = (config.LOGIN_PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, '');
  return {
    infrastructure,
    databaseUrl: config.DATABASE_URL,
    adminToken: config.ADMIN_TOKEN,
    provider: {
      publicUrl,
      cookieSecret: derivedKey(config.TESSERA_MASTER_KEY, 'cookies'),
      accessTokenTtlS: config.ACCESS_TOKEN_TTL_S,
      refreshTokenTtlS: config.REFRESH_TOKEN_TTL_S,
      authorizationCodeTtlS: config.AUTHORIZATION_CODE_TTL_S,
      sessionTtlS: config.SESSION_TTL_S,
      secureCookies: publicUrl.startsWith('https:'),
      defaultLocale: config.DEFAULT_LOCALE,
    },
    signIn: {
      lockoutThreshold: config.LOGIN_LOCKOUT_THRESHOLD,
      lockoutWindowMs: config.LOGIN_LOCKOUT_WINDOW_MS,
      lockoutCooldownMs: config.LOGIN_LOCKOUT_COOLDOWN_MS,
      ipFailureLimit: config.LOGIN_IP_FAILURE_LIMIT,
      unverifiedEmail: (slug: string) => config.LOGIN_UNVERIFIED_EMAIL_TENANTS[slug] ?? config.LOGIN_UNVERIFIED_EMAIL,
    },
    providerCacheSize: config.LOGIN_PROVIDER_CACHE_SIZE,
    clientCacheSize: config.LOGIN_CLIENT_CACHE_SIZE,
    csrfSecret: derivedKey(config.TESSERA_MASTER_KEY, 'csrf'),
    passkeyChallengeSecret: derivedKey(config.TESSERA_MASTER_KEY, 'passkey-challenge'),
    journeys: { loginUrl: publicUrl, registerUrl: config.REGISTER_PUBLIC_URL?.replace(/\/$/, '') },
    maxProjectionLagMs: config.READY_MAX_PROJECTION_LAG_MS,
    perTenantInFlight: { signIns: config.LOGIN_SIGNINS_PER_TENANT, oidcRequests: config.LOGIN_OIDC_REQUESTS_PER_TENANT },
  };
}

export function loginServiceOptions(config: LoginConfig): ServiceOptions {
  return { serviceName: 'login', api: loginApi, ...platformOptionsFromEnv(config) };
}
