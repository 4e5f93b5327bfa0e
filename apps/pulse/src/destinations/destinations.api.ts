import type { ApiOperation } from '#platform';

const errors = { 401: 'no or invalid API key', 403: "another tenant's API key", 404: 'unknown tenant or destination' } as const;

const op = (method: ApiOperation['method'], path: string, summary: string, responses: Record<number, string>): ApiOperation => ({
  method,
  path: `/t/{tenant}/destinations${path}`,
  summary,
  tags: ['destinations'],
  auth: 'apiKey',
  responses: { ...responses, ...errors },
});

/** The webhook destinations routes (see destinations.http.ts and deliveries.http.ts). */
export const destinationsApi: readonly ApiOperation[] = [
  op('post', '', 'Create a webhook destination; the answer holds its signing secret, shown this once', {
    201: 'the destination and its secret',
    400: 'a setting is invalid (the problem names it): a URL that is not allowed, an unknown message type, a mapping that references nothing',
    409: 'the tenant has as many destinations as it may',
  }),
  op('get', '', "The tenant's destinations, paginated with a cursor", { 200: 'a page of destinations', 400: 'bad cursor or limit' }),
  op('get', '/{id}', 'A destination, with its delivery counts', { 200: 'the destination' }),
  op('patch', '/{id}', "Change a destination's settings", { 200: 'the destination as changed', 400: 'a setting is invalid' }),
  op('delete', '/{id}', 'Delete a destination and drop what it still had to deliver', { 204: 'deleted' }),
  op('post', '/{id}/secret-rotations', 'A new signing secret; the old one keeps signing beside it for graceSeconds (default a day)', {
    201: 'the new secret, shown this once',
    400: 'bad graceSeconds',
  }),
  op('post', '/{id}/test', 'Send a sample message now and report how the receiver answered', { 200: 'what the receiver answered' }),
  op('get', '/{id}/dead-letters', 'Deliveries given up on, oldest first, paginated with a cursor', {
    200: 'a page',
    400: 'bad cursor or limit',
  }),
  op('post', '/{id}/dead-letters/{deliveryId}/retry', 'Queue a dead letter again, with its webhook-id', { 202: 'queued' }),
  op('delete', '/{id}/dead-letters/{deliveryId}', 'Dismiss a dead letter', { 204: 'dismissed' }),
  op(
    'post',
    '/{id}/replays',
    'Re-deliver the messages stored in a range of the log (instants or log positions), paced, beside live delivery',
    {
      202: 'the replay, running',
      400: 'a bound is not an instant or a position',
    },
  ),
  op('get', '/{id}/replays/{replayId}', "A replay's progress", { 200: 'running or done, and how many deliveries it queued' }),
];
