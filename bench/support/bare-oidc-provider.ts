import { createServer, type Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import type { OidcAdapter, OidcAdapterClass, OidcPayload } from '../../apps/login/src/oidc/postgres-adapter';
import { BenchHttp } from './bench-browser';

const REDIRECT_URI = 'http://127.0.0.1:1/callback';
const AUTHORIZE = new URLSearchParams({
  client_id: 'app',
  response_type: 'code',
  redirect_uri: REDIRECT_URI,
  scope: 'openid',
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  code_challenge_method: 'S256',
});

/** Entries one model keeps: more than a window opens (the library's own memory adapter keeps 1,000 in all). */
const HELD_PER_MODEL = 10_000;

/** One Map per model, the oldest entries dropped past HELD_PER_MODEL, so memory stays flat over the windows. */
function mapAdapter(): OidcAdapterClass {
  const byUid = new Map<string, OidcPayload>();
  return class MapAdapter implements OidcAdapter {
    private readonly held = new Map<string, OidcPayload>();
    async upsert(id: string, payload: OidcPayload): Promise<void> {
      this.held.delete(id);
      this.held.set(id, payload);
      if (payload.uid) byUid.set(payload.uid, payload);
      if (this.held.size > HELD_PER_MODEL) {
        const [oldest, dropped] = this.held.entries().next().value!;
        this.held.delete(oldest);
        if (dropped.uid) byUid.delete(dropped.uid);
      }
    }
    async find(id: string) {
      return this.held.get(id);
    }
    async findByUid(uid: string) {
      return byUid.get(uid);
    }
    async findByUserCode() {
      return undefined;
    }
    async consume(id: string): Promise<void> {
      const payload = this.held.get(id);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      this.held.delete(id);
    }
    async revokeByGrantId(): Promise<void> {}
  };
}

export interface BareProvider {
  /** A browser at the interaction the provider sent it to (the authorization request is made, untimed). */
  openInteraction(): Promise<{ browser: BenchHttp; interaction: string }>;
  /** The interaction ends at once with a known person, then the resumed authorization answers with the code: returns 1. */
  finish(at: { browser: BenchHttp; interaction: string }): Promise<number>;
  close(): Promise<void>;
}

/**
 * The same library login is built on, with nothing of login around it: a memory adapter, no
 * storage, no events, a sign-in that needs no check (the interaction is finished as soon as it is
 * opened) and a grant found for every request. What it takes from the interaction to the code is
 * the least any sign-in built on oidc-provider can cost here, against which passkey sign-ins read.
 */
export async function startBareProvider(agent: Agent): Promise<BareProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let grantId: Promise<string> | undefined;
  const provider = new Provider(base, {
    adapter: mapAdapter(),
    clients: [
      {
        client_id: 'app',
        token_endpoint_auth_method: 'none',
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    findAccount: async (_ctx: unknown, accountId: string) => ({ accountId, claims: async () => ({ sub: accountId }) }),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['bench-only-cookie-key'] },
    ttl: { Interaction: 600, Session: 600, Grant: 600, AuthorizationCode: 60 },
    // One grant for the one person, found again on every authorization as a remembered consent is.
    loadExistingGrant: async (ctx: { oidc: { client: { clientId: string }; session: { accountId: string } } }) => {
      grantId ??= (async () => {
        const grant = new provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid');
        return grant.save();
      })();
      return (provider.Grant as unknown as { find(id: string): Promise<unknown> }).find(await grantId);
    },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return void callback(req, res);
    provider
      .interactionDetails(req, res)
      .then(() => provider.interactionResult(req, res, { login: { accountId: 'bench-person' } }, { mergeWithLastSubmission: false }))
      .then((returnTo) => res.writeHead(303, { location: returnTo }).end())
      .catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  return {
    async openInteraction() {
      const browser = new BenchHttp(agent, base);
      const answer = await browser.send('GET', `/auth?${AUTHORIZE}`);
      if (answer.status !== 303 || !answer.location) throw new Error(`bare provider: no interaction (${answer.status})`);
      return { browser, interaction: answer.location };
    },
    async finish({ browser, interaction }) {
      const finished = await browser.send('GET', interaction);
      if (finished.status !== 303 || !finished.location) throw new Error(`bare provider: interaction not finished (${finished.status})`);
      const resumed = await browser.send('GET', finished.location);
      if (!resumed.location?.startsWith(`${REDIRECT_URI}?code=`)) throw new Error(`bare provider: no code (${resumed.status})`);
      return 1;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
