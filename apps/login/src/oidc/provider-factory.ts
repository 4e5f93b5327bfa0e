import { createHmac } from 'node:crypto';
import Provider, { errors, interactionPolicy, type PolicyContext } from 'oidc-provider';
import type { Pool } from 'pg';
import { TESSERA_API_AUDIENCE } from '#access';
import { brandLocale, escapeHtml, hostedPage, hostedPageHeaders, siteNameOf, SUPPORTED_LOCALES, type Locale } from '#platform';
import type { Credential, LoginDirectory, LoginTenant } from '../directory';
import type { SigningKeys } from '../keys/signing-keys';
import type { ClientCache } from '../clients/client-cache';
import { clientLookup, presentedCredentialsOf } from '../clients/client-secrets';
import { wordsFor, type Words } from '../messages/messages';
import { ACR_MFA, ACR_PASSWORD } from '../mfa/second-factor-step';
import { CookieSigner } from './cookie-signer';
import { latestGrant, postgresAdapterFor } from './postgres-adapter';
import { runPageResume, type KoaContext } from './page-resume';
import { currentPageRequest, openRequestArtefacts, requestArtefactsOf } from './request-artefacts';

export { TESSERA_API_AUDIENCE };

/** oidc-provider's routes of the authorization endpoint: a session they save was started or extended there (see restartable). */
const SIGN_IN_LANDINGS: ReadonlySet<string> = new Set(['authorization', 'resume']);

export interface ProviderSettings {
  readonly publicUrl: string;
  readonly cookieSecret: Buffer;
  readonly accessTokenTtlS: number;
  readonly refreshTokenTtlS: number;
  readonly authorizationCodeTtlS: number;
  readonly sessionTtlS: number;
  readonly secureCookies: boolean;
  /** The pages' language when neither the request's ui_locales nor the browser's Accept-Language names a supported one. */
  readonly defaultLocale: Locale;
}

export interface ProviderHooks {
  onGrantRevoked(tenant: LoginTenant, grantId: string): void;
  onSessionEnded(tenant: LoginTenant, accountId: string): void;
  /** A request the provider could not serve (its storage failed, or a bug): for the service's log. */
  onServerError(tenant: LoginTenant, error: unknown): void;
  /**
   * Whether a sign-in to `clientId` needs a second factor, by the tenant's policy and whether the
   * client asked for one (acr_values): a session signed in with a password alone is then stepped up.
   * Without it, sessions are reused as they are.
   */
  secondFactorWanted?(tenant: LoginTenant, clientId: string, asked: boolean): Promise<boolean>;
}

interface GrantContext {
  oidc: {
    client: { clientId: string };
    session: { accountId?: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    provider: { Grant: { find(id: string): Promise<unknown> } };
  };
}

interface PageContext {
  type: string;
  body: string;
  set(headers: Record<string, string>): void;
  get(header: string): string;
  oidc?: { params?: Record<string, unknown> };
}

/**
 * The words of one of oidc-provider's pages: the request's `ui_locales` where the endpoint takes
 * one (authorization, end_session), else Accept-Language. An error page is rendered for requests
 * oidc-provider could not even read, so nothing here may throw.
 */
function wordsOfPage(ctx: PageContext, defaultLocale: Locale): Words {
  let uiLocales: unknown;
  try {
    uiLocales = ctx.oidc?.params?.ui_locales;
  } catch {
    uiLocales = undefined;
  }
  return wordsFor(uiLocales, ctx.get('accept-language'), defaultLocale);
}

/** oidc-provider's own pages (logout, device flow, errors) in the tenant's look, with the hosted pages' headers. */
function render(ctx: PageContext, tenant: LoginTenant, words: Words, title: string, body: string): void {
  ctx.set(hostedPageHeaders({ brand: tenant.branding }));
  ctx.type = 'html';
  ctx.body = hostedPage({ siteName: tenant.name, brand: tenant.branding, title, body, lang: words.locale });
}

/**
 * oidc-provider's sign-in and consent prompts, after `create`: a client sending prompt=create
 * (Initiating User Registration via OpenID Connect) gets the sign-up page first. Once the person
 * comes back from it (the interaction's result holds `create`, carried into the later ones),
 * sign-in follows as usual.
 */
const SIGN_UP_POLICY = policyWithSignUp();

function policyWithSignUp(stepUp?: (ctx: PolicyContext) => Promise<boolean>): interactionPolicy.Policy {
  const { Check, Prompt, base } = interactionPolicy;
  const policy = base();
  // Requestable: oidc-provider asks for it while the authorization's results hold no `create`.
  policy.add(new Prompt({ name: 'create', requestable: true }), 0);
  if (stepUp) policy.get('login')?.checks.add(new Check(STEP_UP, 'a second factor is required', stepUp));
  return policy;
}

/**
 * The login prompt's reason when a session exists but signed in without a second factor that the
 * client (acr_values) or the tenant's policy wants: the interaction then asks for the second factor
 * only, the person being known already (interaction.http.ts).
 */
export const STEP_UP = 'step_up';

function stepUpCheck(tenant: LoginTenant, wanted: NonNullable<ProviderHooks['secondFactorWanted']>) {
  return async (ctx: PolicyContext): Promise<boolean> => {
    const { oidc } = ctx;
    // No session is the no_session check's; a result that just signed in is what the step asked for.
    if (!oidc.session.accountId || oidc.result?.login || oidc.acr === ACR_MFA) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const acrValues = oidc.params.acr_values;
    const asked = typeof acrValues === 'string' && acrValues.split(' ').includes(ACR_MFA);
    return (await wanted(tenant, oidc.client.clientId, asked))
      ? interactionPolicy.Check.REQUEST_PROMPT
      : interactionPolicy.Check.NO_NEED_TO_PROMPT;
  };
}

/**
 * The interaction page's query: `prompt=login` (its form needs nothing read) and the authorization's
 * ui_locales. A step-up alone is not that form: the page reads the interaction to know whose session it is.
 */
function interactionQuery(prompt: { name: string; reasons?: string[] }, uiLocales: unknown): string {
  const query = new URLSearchParams();
  const stepUpOnly = (prompt.reasons ?? []).length > 0 && (prompt.reasons ?? []).every((reason) => reason === STEP_UP);
  if (prompt.name === 'login' && !stepUpOnly) query.set('prompt', 'login');
  if (typeof uiLocales === 'string' && uiLocales !== '') query.set('ui_locales', uiLocales);
  const text = query.toString();
  return text ? `?${text}` : '';
}

export function issuerOf(publicUrl: string, slug: string): string {
  return `${publicUrl}/t/${slug}`;
}

function claimsOf(credential: Credential): Record<string, unknown> {
  return {
    sub: credential.userId,
    email: credential.email,
    email_verified: credential.emailVerified,
    given_name: credential.givenName ?? undefined,
    family_name: credential.familyName ?? undefined,
    locale: credential.locale ?? undefined,
  };
}

/** Builds one tenant's oidc-provider: its issuer, keys, storage and policies. */
export async function buildProvider(
  tenant: LoginTenant,
  deps: {
    pool: Pool;
    directory: LoginDirectory;
    clients: ClientCache;
    keys: SigningKeys;
    settings: ProviderSettings;
    hooks: ProviderHooks;
    /** Where the event store keeps its streams in login's database: the prefix of a person's factors stream (see postgresAdapterFor). */
    factorsStreamPrefix?: (tenantId: string) => string;
  },
): Promise<Provider> {
  const { settings, directory } = deps;
  /**
   * The tenant as it is now (its branding may have changed since this provider was built) and the
   * words of the page: `ui_locales`, Accept-Language, then its default language. Never throws: an
   * error page may be what is being rendered.
   */
  const pageOf = async (ctx: PageContext) => {
    const site = (await directory.tenantBySlug(tenant.slug).catch(() => undefined)) ?? tenant;
    return { site, words: wordsOfPage(ctx, brandLocale(site.branding, settings.defaultLocale)) };
  };
  const issuer = issuerOf(settings.publicUrl, tenant.slug);
  const keys = await deps.keys.keysOf(tenant.tenantId);
  const cookieKey = createHmac('sha256', settings.cookieSecret).update(`tessera/login/cookies/${tenant.tenantId}`).digest('base64url');
  const apiResource = {
    scope: 'api',
    audience: TESSERA_API_AUDIENCE,
    accessTokenTTL: settings.accessTokenTtlS,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  };
  const provider = new Provider(issuer, {
    adapter: postgresAdapterFor(
      deps.pool,
      tenant.tenantId,
      clientLookup(deps.clients, () => presentedCredentialsOf(Provider.ctx)),
      () => Provider.ctx ?? currentPageRequest(),
      deps.factorsStreamPrefix?.(tenant.tenantId),
    ),
    jwks: { keys },
    cookies: {
      keys: new CookieSigner(cookieKey),
      // The session cookie is the tenant's own: every tenant's provider names it _session, so at
      // path / signing in at one tenant would overwrite (sign the browser out of) another. The
      // short-lived interaction cookies already carry their own paths under /t/{tenant}.
      long: { signed: true, secure: settings.secureCookies, sameSite: 'lax', path: `/t/${tenant.slug}` },
      short: { signed: true, secure: settings.secureCookies, sameSite: 'lax' },
    },
    findAccount: async (_ctx: unknown, sub: string) => {
      const credential = await directory.credentialById(tenant.tenantId, sub);
      if (!credential) return undefined;
      return { accountId: sub, claims: async () => claimsOf(credential) };
    },
    // acr and amr: how the person signed in (a password, a second factor), for relying parties that step up.
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['given_name', 'family_name', 'locale'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'api'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post'],
    clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code'], response_types: ['code'] },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'], userinfoSigningAlgValues: ['ES256'], introspectionSigningAlgValues: ['ES256'] },
    // The prompt rides along so the sign-in page can be shown without reading the interaction.
    // OpenID Connect's prompt=create asks OPs to list the prompts they take.
    // ui_locales_supported: the languages of the hosted pages (OpenID Connect Discovery 1.0, §3).
    discovery: {
      prompt_values_supported: ['none', ...SIGN_UP_POLICY.map((prompt) => prompt.name)],
      ui_locales_supported: [...SUPPORTED_LOCALES],
    },
    interactions: {
      policy: deps.hooks.secondFactorWanted ? policyWithSignUp(stepUpCheck(tenant, deps.hooks.secondFactorWanted)) : SIGN_UP_POLICY,
      // The authorization's ui_locales rides along too: the sign-in page is shown without reading the interaction.
      url: (_ctx: unknown, interaction: { uid: string; prompt: { name: string; reasons?: string[] }; params: Record<string, unknown> }) =>
        `/t/${tenant.slug}/interaction/${interaction.uid}${interactionQuery(interaction.prompt, interaction.params.ui_locales)}`,
    },
    pkce: { required: () => true },
    // What the ID token's acr says of a sign-in: a password alone, or with a second factor.
    acrValues: [ACR_PASSWORD, ACR_MFA],
    rotateRefreshToken: true,
    // Consent is remembered across sessions: a person who allowed a client is not asked again
    // (unless the client sends prompt=consent or asks for more than was granted).
    loadExistingGrant: async (ctx: GrantContext) => {
      const clientId = ctx.oidc.client.clientId;
      const accountId = ctx.oidc.session.accountId;
      let grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(clientId);
      if (!grantId && accountId) {
        // Usually read already, with the interaction this request resumes (see the adapter's find).
        const request = requestArtefactsOf(ctx);
        const known = request?.knownLatestGrant(accountId, clientId);
        const latest = known === undefined ? await latestGrant(deps.pool, tenant.tenantId, accountId, clientId) : (known ?? undefined);
        // Read with its id, so Grant.find below takes it from this request instead of asking again.
        if (latest) request?.remember('Grant', latest.id, latest.payload);
        grantId = latest?.id;
      }
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    conformIdTokenClaims: true,
    // `tid` names the tenant for APIs; the subject kind keeps a client's token from passing as a person's.
    extraTokenClaims: (_ctx: unknown, token: { kind: string }) => ({
      tid: tenant.tenantId,
      tessera_subject: token.kind === 'ClientCredentials' ? 'client' : 'person',
    }),
    ttl: {
      AccessToken: settings.accessTokenTtlS,
      ClientCredentials: settings.accessTokenTtlS,
      AuthorizationCode: settings.authorizationCodeTtlS,
      IdToken: settings.accessTokenTtlS,
      DeviceCode: 600,
      Interaction: 3600,
      RefreshToken: settings.refreshTokenTtlS,
      Session: settings.sessionTtlS,
      // An offline refresh token outlives the session (persistsLogout). The grant is not extended when
      // a refresh token rotates, so it lives long enough for a chain of rotations; revocation ends it.
      Grant: Math.max(settings.refreshTokenTtlS, 365 * 86_400),
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Any authenticated (confidential) client of the tenant may introspect, as resource servers do;
      // storage is per tenant, so another tenant's tokens are simply inactive here.
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx: unknown, client: { clientAuthMethod: string }) => client.clientAuthMethod !== 'none',
      },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId,
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx: PageContext, form: string, _out: unknown, error?: Error) => {
          const { site, words } = await pageOf(ctx);
          render(
            ctx,
            site,
            words,
            words.say('device.title'),
            `${error ? `<p class="error">${words.sayHtml('device.invalidCode')}</p>` : `<p>${words.sayHtml('device.enterCode')}</p>`}${form}
<button type="submit" form="op.deviceInputForm">${words.sayHtml('device.continue')}</button>`,
          );
        },
        userCodeConfirmSource: async (
          ctx: PageContext,
          form: string,
          client: { clientName?: string; clientId: string },
          _device: unknown,
          userCode: string,
        ) => {
          const { site, words } = await pageOf(ctx);
          const confirm = words.sayHtml('device.confirm', {
            client: `<strong>${escapeHtml(client.clientName ?? client.clientId)}</strong>`,
            code: `<strong>${escapeHtml(userCode)}</strong>`,
          });
          render(
            ctx,
            site,
            words,
            words.say('device.title'),
            `${form}<p>${confirm}</p>
<button type="submit" form="op.deviceConfirmForm">${words.sayHtml('device.continue')}</button>`,
          );
        },
        successSource: async (ctx: PageContext) => {
          const { site, words } = await pageOf(ctx);
          render(ctx, site, words, words.say('device.connected.title'), `<p>${words.sayHtml('device.connected')}</p>`);
        },
      },
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: PageContext, form: string) => {
          const { site, words } = await pageOf(ctx);
          render(
            ctx,
            site,
            words,
            words.say('signOut.title'),
            `${form}<p>${words.sayHtml('signOut.question', { site: escapeHtml(siteNameOf(site.name, site.branding)) })}</p>
<button form="op.logoutForm" type="submit" name="logout" value="yes">${words.sayHtml('signOut.confirm')}</button>
<button form="op.logoutForm" type="submit">${words.sayHtml('signOut.stay')}</button>`,
          );
        },
        postLogoutSuccessSource: async (ctx: PageContext) => {
          const { site, words } = await pageOf(ctx);
          render(ctx, site, words, words.say('signedOut.title'), `<p>${words.sayHtml('signedOut.done')}</p>`);
        },
      },
      resourceIndicators: {
        enabled: true,
        // Without `resource` a token stays opaque: stored, so it can be introspected and revoked.
        // With resource=urn:tessera:api it is an ES256 JWT other services verify on their own.
        defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string) => oneOf,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== TESSERA_API_AUDIENCE) throw new errors.InvalidTarget!();
          return apiResource;
        },
        useGrantedResource: () => true,
      },
    },
    // The error code and its description are the protocol's (RFC 6749), in English whatever the page's language.
    renderError: async (ctx: PageContext, out: Record<string, string>) => {
      const { site, words } = await pageOf(ctx);
      render(
        ctx,
        site,
        words,
        words.say('error.title'),
        `<p class="error">${escapeHtml(out.error)}</p><p>${escapeHtml(out.error_description)}</p>`,
      );
    },
  });
  // OidcMount rewrites X-Forwarded-* to what Fastify concluded under TRUST_PROXY, so believing them is safe.
  provider.proxy = true;
  // Runs around every provider route, before Koa writes the response (see request-artefacts.ts). A
  // request's writes commit with its response or not at all: when either fails, Koa answers 500
  // and drops every header the provider set, the code's Location and the session cookie with them.
  provider.use(async (ctx: { oidc?: { route?: string } }, next: () => Promise<void>) => {
    if (await runPageResume(provider, ctx as KoaContext, next)) return;
    const artefacts = openRequestArtefacts(ctx);
    await next();
    await artefacts.commit(deps.pool, tenant.tenantId, SIGN_IN_LANDINGS.has(ctx.oidc?.route ?? ''));
  });
  // oidc-provider reports the errors it turned into server_error; Koa reports the rest (a failed
  // commit of the request's writes) as 'error', which without a listener goes to the console.
  provider.on('server_error', (_ctx: unknown, error: unknown) => deps.hooks.onServerError(tenant, error));
  provider.on('error', (error: unknown) => deps.hooks.onServerError(tenant, error));
  provider.on('grant.revoked', (_ctx: unknown, grantId: string) => deps.hooks.onGrantRevoked(tenant, grantId));
  provider.on('end_session.success', (ctx: { oidc?: { session?: { accountId?: string } } }) => {
    const accountId = ctx.oidc?.session?.accountId;
    if (accountId) deps.hooks.onSessionEnded(tenant, accountId);
  });
  return provider;
}
