import { defineEvent } from '#cqrs';

/** Login's sign-in attempts, one stream per tenant and blind-indexed e-mail. */
export const SIGN_IN_STREAM_PREFIX = 'login.signin-';

export const signInStreamFor = (tenantId: string, accountKey: string) => `${SIGN_IN_STREAM_PREFIX}${tenantId}.${accountKey}`;

/**
 * A person signed in. Pulse turns it into a `Signed In` track event on their profile. Keyed by the
 * blind index of the e-mail (`accountKey`), so no address is in clear.
 */
export const LoginSucceeded = defineEvent<{ accountKey: string; userId: string; clientId: string; at: string }>()('LoginSucceeded');
