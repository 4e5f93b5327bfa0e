import { parkedEventsApi } from '#cqrs';
import type { ApiDescription } from '#platform';

/** pulse's routes, served at /docs and /docs-json (so far its parked-events administration; see the README for the rest). */
export const pulseApi: ApiDescription = {
  title: 'Tessera pulse',
  version: '1',
  description:
    "Tracking collector with Segment's HTTP API (/v1/track, /v1/batch, ... as Segment documents it), unified profiles and " +
    'a live view per tenant. Listed here so far: the administration of parked events (the rest: see the README).',
  operations: [...parkedEventsApi],
};
