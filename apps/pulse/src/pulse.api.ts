import { exportPartsApi } from '#contracts';
import { parkedEventsApi } from '#cqrs';
import type { ApiDescription, ApiOperation } from '#platform';
import { audiencesApi } from './audiences/audiences.api';
import { destinationsApi } from './destinations/destinations.api';

const trackingResponses = {
  200: 'stored (or a known duplicate): {"success": true}',
  400: 'invalid message; the problem names the field',
  401: 'missing or invalid write key',
  413: 'message or batch too large',
  415: 'unsupported Content-Encoding',
  422: 'the event store refused a value of the request; nothing of it was stored',
  429: 'the tenant holds more than its share of the queue (or its event rate): retry after Retry-After',
  503: 'the event store is behind: retry after Retry-After',
} as const;

/** A Segment HTTP API call (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/). */
const segment = (path: string, summary: string): ApiOperation => ({
  method: 'post',
  path: `/v1/${path}`,
  summary,
  tags: ['tracking'],
  auth: 'writeKey',
  responses: trackingResponses,
});

const apiKeyErrors = { 401: 'no or invalid API key', 403: "another tenant's API key", 404: 'unknown tenant or identity' } as const;

/** pulse's public API (PRODUCT.md), served at /docs and /docs-json. */
export const pulseApi: ApiDescription = {
  title: 'Tessera pulse',
  version: '1',
  description:
    "Segment-compatible tracking (the HTTP tracking API, byte for byte: bodies as JSON or text/plain, gzip or deflate; the write key as Basic user name or `writeKey` in the body), unified profiles, the live view of a tenant's events, webhook destinations, computed traits and audiences.",
  operations: [
    segment('track', 'Record an action a person took (Segment track)'),
    segment('identify', 'Tie a person to their traits (Segment identify)'),
    segment('page', 'Record a page view (Segment page)'),
    segment('screen', 'Record a mobile screen view (Segment screen)'),
    segment('group', 'Associate a person with a group (Segment group)'),
    segment('alias', 'Merge two identities of one person (Segment alias)'),
    segment('batch', 'Up to 2,500 messages of any type at once, all or nothing (Segment batch)'),
    segment(
      'import',
      'History moved in (Segment import): as batch, timestamps as old as 1970; builds profiles but starts nothing live (a destination gets it only with historical: true; no loyalty points)',
    ),
    segment('t', "analytics.js's short path for track"),
    segment('i', "analytics.js's short path for identify"),
    segment('p', "analytics.js's short path for page"),
    segment('s', "analytics.js's short path for screen"),
    segment('g', "analytics.js's short path for group"),
    segment('a', "analytics.js's short path for alias"),
    segment('b', "analytics.js's short path for batch"),
    {
      method: 'get',
      path: '/v1/pixel/{type}',
      summary:
        "Segment's Pixel API, for mail opens and pages without JavaScript: `?data=` holds the message (with `writeKey`) as base64 JSON, or the fields come as query parameters nested by dots (`properties.subject=…`). `type`: identify, group, alias, page, screen or track. Answers a 1×1 GIF, also when the message is refused (the refusal's type is in the `Tessera-Refused` header); a caller that accepts `application/json` gets the problem document instead",
      tags: ['tracking'],
      auth: 'writeKey',
      responses: {
        200: 'a transparent 1×1 GIF',
        ...Object.fromEntries(Object.entries(trackingResponses).filter(([status]) => status !== '200' && status !== '415')),
        404: 'not a pixel type',
      },
    },
    {
      method: 'get',
      path: '/v1/projects/{writeKey}/settings',
      summary: "The source settings analytics.js loads at start (what Segment's CDN serves): they point it at pulse",
      tags: ['tracking'],
      responses: { 200: 'settings', 404: 'unknown write key' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/tracking-purposes',
      summary:
        "Which consent purpose the tenant's tracked messages serve: rules by event name or message type, and Segment consent categories mapped to purposes",
      tags: ['consent'],
      auth: 'apiKey',
      responses: { 200: 'the rules (none: every message is tracked whatever was consented)', ...apiKeyErrors },
    },
    {
      method: 'put',
      path: '/t/{tenant}/tracking-purposes',
      summary:
        'Sets the rules: a message whose purpose its sender withdrew in register (by userId), or its own context.consent.categoryPreferences refuses, is acknowledged and not stored',
      tags: ['consent'],
      auth: 'apiKey',
      responses: { 200: 'the rules as set', 400: 'a rule the problem names is malformed', ...apiKeyErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/retention',
      summary: 'How long the tenant keeps its tracked events (null: for ever)',
      tags: ['privacy'],
      auth: 'apiKey',
      responses: { 200: 'the retention period', ...apiKeyErrors },
    },
    {
      method: 'put',
      path: '/t/{tenant}/retention',
      summary:
        "Sets how long tracked events are kept, in days (1 to 3650, or null for ever): older ones are removed from the event log and from profiles' event lists at the next hourly run; profiles keep their counters and traits",
      tags: ['privacy'],
      auth: 'apiKey',
      responses: { 200: 'the period as set', 400: 'a period the problem names is invalid', ...apiKeyErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/profiles/{kind}/{value}',
      summary: 'The unified profile of a userId, anonymousId or e-mail: identities, traits, counters',
      tags: ['profiles'],
      auth: 'apiKey',
      responses: {
        200: 'the profile',
        400: 'an identity storage cannot hold',
        429: "the tenant's reads are at their limit",
        ...apiKeyErrors,
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/profiles/{kind}/{value}/events',
      summary: "A profile's events, newest first, paginated with a cursor",
      tags: ['profiles'],
      auth: 'apiKey',
      responses: { 200: 'a page of events', 400: 'bad cursor or limit', 429: "the tenant's reads are at their limit", ...apiKeyErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/groups/{groupId}',
      summary:
        "An account profile built from group calls: the group's traits (latest value per trait), first and last seen, how many members",
      tags: ['profiles'],
      auth: 'apiKey',
      responses: { 200: 'the group', 400: 'a groupId storage cannot hold', 429: "the tenant's reads are at their limit", ...apiKeyErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/groups/{groupId}/members',
      summary: "A group's members (profiles), paginated with a cursor",
      tags: ['profiles'],
      auth: 'apiKey',
      responses: { 200: 'a page of members', 400: 'bad cursor or limit', 429: "the tenant's reads are at their limit", ...apiKeyErrors },
    },
    {
      method: 'post',
      path: '/t/{tenant}/live/tickets',
      summary: 'A ticket (valid 60 s) that opens the live view from a browser, whose EventSource cannot send the API key',
      tags: ['live'],
      auth: 'apiKey',
      responses: { 200: 'the ticket and when it expires', ...apiKeyErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/live',
      summary:
        "The tenant's events as they arrive (text/event-stream), optionally filtered by event name; the API key as Bearer or `?ticket=` from POST live/tickets",
      tags: ['live'],
      auth: 'apiKey',
      responses: { 200: 'an event stream', 429: "the tenant's open views are at their limit", ...apiKeyErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/live.html',
      summary: 'A page showing the live view (the API key stays in the URL fragment)',
      tags: ['live'],
      responses: { 200: 'the page', 404: 'unknown tenant' },
    },
    ...destinationsApi,
    ...audiencesApi,
    ...parkedEventsApi,
    ...exportPartsApi,
  ],
};

/** A projector process serves no tracking, profiles or live view: only the administration of its parked events. */
export const pulseProjectorApi: ApiDescription = {
  ...pulseApi,
  description: "pulse's profiles projector: health, metrics and the administration of the events it parked.",
  operations: parkedEventsApi,
};
