// oidc-provider 9 ships no type declarations; this names only what login uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown> & { client_id?: string; scope?: string };
    session?: { accountId?: string; uid?: string };
    grantId?: string;
    lastSubmission?: Record<string, unknown>;
    result?: Record<string, unknown>;
    /** Where the browser goes to resume the authorization once the result is saved. */
    readonly returnTo: string;
    /** Saves the interaction for the rest of its lifetime. */
    persist(): Promise<unknown>;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    proxy: boolean;
    Grant: new (properties: { accountId: string; clientId: string }) => GrantInstance;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
    on(event: string, listener: (...args: never[]) => void): this;
    /** The browser's session (its signed session cookie), a new empty one when there is none. */
    Session: { get(ctx: object): Promise<{ readonly uid: string; readonly accountId?: string }> };
    /** Koa middleware around every route of the provider (inserted before its router). */
    use(middleware: (ctx: object, next: () => Promise<void>) => Promise<void>): this;
    /** The name of one of oidc-provider's cookies, e.g. 'interaction'. */
    cookieName(type: string): string;
    /** A Koa context over a request (Koa's own; the provider is a Koa application). */
    createContext(
      req: IncomingMessage,
      res: ServerResponse,
    ): { cookies: { get(name: string, options: { signed: boolean }): string | undefined } };
    /** The Koa context of the request being handled (AsyncLocalStorage), if any. */
    static readonly ctx: { headers?: Record<string, string | undefined>; oidc?: { body?: Record<string, unknown> } } | undefined;
  }

  export const errors: Record<string, new (description?: string) => Error>;

  /** What a Check of the interaction policy sees of the request. */
  export interface PolicyContext {
    oidc: {
      prompts: Set<string>;
      result?: Record<string, unknown>;
      params: Record<string, unknown>;
      session: { accountId?: string };
      /** The session's acr (how the person signed in), or the result's while an interaction ends. */
      acr?: string;
      client: { clientId: string };
    };
  }

  export namespace interactionPolicy {
    class Check {
      static readonly REQUEST_PROMPT: true;
      static readonly NO_NEED_TO_PROMPT: false;
      constructor(reason: string, description: string, check: (ctx: PolicyContext) => boolean | Promise<boolean>);
    }
    class Prompt {
      readonly name: string;
      readonly checks: Check[] & { add(check: Check, index?: number): void };
      constructor(options: { name: string; requestable: boolean }, ...checks: Check[]);
    }
    type Policy = Prompt[] & { add(prompt: Prompt, index?: number): void; get(name: string): Prompt | undefined };
    function base(): Policy;
  }
}
