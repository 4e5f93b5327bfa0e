import { parkedEventsApi } from '#cqrs';
import type { ApiDescription } from '#platform';

/** login's routes, served at /docs and /docs-json (so far its parked-events administration; see the README for the rest). */
export const loginApi: ApiDescription = {
  title: 'Tessera login',
  version: '1',
  description:
    "OpenID Connect provider per tenant: each tenant's endpoints are listed by its discovery document, " +
    '/t/{tenant}/.well-known/openid-configuration. Listed here so far: the administration of parked events ' +
    '(OAuth clients and signing keys: see the README).',
  operations: [...parkedEventsApi],
};
