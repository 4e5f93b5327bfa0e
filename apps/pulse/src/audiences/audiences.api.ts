import type { ApiOperation } from '#platform';

const errors = { 401: 'no or invalid API key', 403: "another tenant's API key", 404: 'unknown tenant or key' } as const;

const op = (method: ApiOperation['method'], path: string, summary: string, responses: Record<number, string>): ApiOperation => ({
  method,
  path: `/t/{tenant}${path}`,
  summary,
  tags: ['audiences'],
  auth: 'apiKey',
  responses: { ...responses, ...errors },
});

/** The computed traits and audiences routes (see audiences.http.ts). */
export const audiencesApi: readonly ApiOperation[] = [
  op('get', '/computed-traits', "The tenant's computed traits", { 200: 'the definitions' }),
  op(
    'post',
    '/computed-traits',
    'Define a computed trait: `count` of an event or `sum` of a numeric property over the last `windowDays` (1-365), `last` value of a property, `firstSeen`',
    { 201: 'defined', 400: 'a field the problem names is invalid', 409: 'the key is taken, or the tenant has 100 computed traits' },
  ),
  op('delete', '/computed-traits/{key}', 'Remove a computed trait no audience reads', { 204: 'removed', 409: 'an audience reads it' }),
  op('get', '/audiences', "The tenant's audiences", { 200: 'the definitions' }),
  op(
    'post',
    '/audiences',
    'Define an audience: a rule (and, or, not; comparisons of profile traits and computed traits). Entering and leaving it are `Audience Entered` / `Audience Exited` track messages in the tenant log',
    {
      201: 'defined',
      400: 'the rule does not parse, or reads an unknown computed trait (the problem names the field)',
      409: 'the key is taken, or the tenant has 100 audiences',
    },
  ),
  op('delete', '/audiences/{key}', 'Remove an audience (its members leave without messages)', { 204: 'removed' }),
  op('get', '/audiences/{key}/members', "An audience's members by profile id, paginated with a cursor", {
    200: 'a page of members',
    400: 'bad cursor or limit',
  }),
];
