import { exportPartsApi } from '#contracts';
import { parkedEventsApi } from '#cqrs';
import type { ApiDescription } from '#platform';
import { campaignsApi } from './campaigns/campaign.api';
import { createRewardBody, importCodesBody, restockBody, updateRewardBody } from './catalog/catalog.schemas';
import { programBody } from './program/program.schemas';
import { redeemBody } from './redemption/redemption.http';
import { adjustmentBody } from './wallet/member.http';
import { refundBody } from './wallet/refund.http';
import { transferBody } from './wallet/transfer.http';
import { enrolmentBody } from './wallet/enrolment.http';
import { rotationBody, webhookBodies } from './webhooks/webhooks.http';
import { STRICT_POLICY } from '#outbound';

const keyErrors = {
  401: 'no or unknown API key',
  403: 'API key of another tenant',
  404: 'unknown tenant',
  429: "this tenant's calls in flight or writes per second on this replica are spent (Retry-After)",
} as const;
const memberErrors = {
  ...keyErrors,
  400: 'a userId that is no identifier (control characters, too long)',
  404: 'unknown tenant, or no such member (never enrolled, or erased)',
} as const;
const webhookBody = webhookBodies(STRICT_POLICY);
const webhookErrors = { ...keyErrors, 404: 'unknown tenant or webhook endpoint' } as const;
const listErrors = { ...keyErrors, 400: 'malformed cursor, or a status that is none' } as const;

/** rewards' public API (PRODUCT.md), served at /docs and /docs-json; every call takes the tenant's API key. */
export const rewardsApi: ApiDescription = {
  title: 'Tessera rewards',
  version: '1',
  description:
    'Loyalty engine driven by tracked events: earning rules, tiers and expiry (the program), a catalog with stock, ' +
    "redemptions that never overdraw a wallet nor oversell a reward, and each member's points held as lots.",
  operations: [
    ...memberSelfApi(),
    {
      method: 'put',
      path: '/t/{tenant}/program',
      summary:
        'Publish the whole program (rules, tiers, expiry, limits, refund policy) as a new version; the same program again changes nothing. ' +
        "Each rule earns only from the source kinds in its `sources` (['server'] unless it lists 'client' too)",
      tags: ['program'],
      auth: 'apiKey',
      body: programBody,
      responses: { 200: 'the current version', 400: 'invalid program (each error names its JSON pointer)', ...keyErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/program',
      summary: 'The program in force and its version',
      tags: ['program'],
      auth: 'apiKey',
      responses: { 200: 'program', ...keyErrors, 404: 'unknown tenant, or no program yet' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/rewards',
      summary:
        'Add a reward to the catalog, with its cost, stock, per-member limit, validity window, category, the tiers it is reserved for ' +
        'and its voucher codes (generated with a prefix and length, or imported)',
      tags: ['catalog'],
      auth: 'apiKey',
      body: createRewardBody,
      responses: { 201: 'created', 400: 'invalid input', ...keyErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/rewards',
      summary: 'The catalog with the remaining stock, paginated (?cursor=&limit=), optionally one category (?category=)',
      tags: ['catalog'],
      auth: 'apiKey',
      responses: { 200: 'a page of rewards', ...listErrors, 400: 'malformed cursor or category' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/rewards/{rewardId}',
      summary: 'One reward with its exact remaining stock and, if it hands out imported codes, how many are left (never the codes)',
      tags: ['catalog'],
      auth: 'apiKey',
      responses: { 200: 'reward', ...keyErrors, 404: 'unknown tenant or reward' },
    },
    {
      method: 'patch',
      path: '/t/{tenant}/rewards/{rewardId}',
      summary: 'Change some of the terms (name, cost, per-member limit, validity window, category, tiers); redemptions made keep theirs',
      tags: ['catalog'],
      auth: 'apiKey',
      body: updateRewardBody,
      responses: { 200: 'the reward as it now stands', 400: 'invalid input', ...keyErrors, 404: 'unknown tenant or reward' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/rewards/{rewardId}/restocks',
      summary: 'Add units to the stock (an Idempotency-Key makes a retry add once)',
      tags: ['catalog'],
      auth: 'apiKey',
      body: restockBody,
      responses: {
        201: 'restocked: the reward as it now stands',
        400: 'invalid units (or past what a stock holds) or Idempotency-Key',
        ...keyErrors,
        404: 'unknown tenant or reward',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/rewards/{rewardId}/deactivation',
      summary: 'Take a reward out of redemption; redemptions made stay as they are',
      tags: ['catalog'],
      auth: 'apiKey',
      responses: { 200: 'deactivated (again: no change)', ...keyErrors, 404: 'unknown tenant or reward' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/rewards/{rewardId}/reactivation',
      summary: 'Put a deactivated reward back in redemption',
      tags: ['catalog'],
      auth: 'apiKey',
      responses: { 200: 'active (again: no change)', ...keyErrors, 404: 'unknown tenant or reward' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/rewards/{rewardId}/codes',
      summary:
        'Import voucher codes into a reward that hands out imported codes (up to 1,000 a call; an Idempotency-Key makes a retry add once)',
      tags: ['catalog'],
      auth: 'apiKey',
      body: importCodesBody,
      responses: {
        201: 'imported: the reward with the count of codes left',
        400: 'invalid or duplicate codes (each named by its place in the list)',
        ...keyErrors,
        404: 'unknown tenant or reward',
        409: 'the reward does not hand out imported codes',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/members/{userId}/redemptions',
      summary: 'Redeem a reward: takes the points, then a stock unit; send an Idempotency-Key (same key, same answer, one effect)',
      tags: ['redemption'],
      auth: 'apiKey',
      body: redeemBody,
      responses: {
        201: 'redeemed (confirmed)',
        ...memberErrors,
        400: 'invalid input, userId or Idempotency-Key, or none sent',
        409: 'out of stock or codes, deactivated, reserved for other tiers, not yet valid, member limit reached or not enough points',
        410: 'reward no longer valid',
        422: 'Idempotency-Key already used for another request',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/redemptions',
      summary: "Admin view of redemptions, paginated (?status=&userId=&cursor=&limit=): the tenant's, or one member's",
      tags: ['redemption'],
      auth: 'apiKey',
      responses: { 200: 'a page of redemptions', ...listErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/redemptions/{id}',
      summary: 'One redemption and its status',
      tags: ['redemption'],
      auth: 'apiKey',
      responses: { 200: 'redemption', ...keyErrors, 404: 'unknown tenant or redemption' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/redemptions/{id}/fulfilment',
      summary: 'Mark a confirmed redemption fulfilled',
      tags: ['redemption'],
      auth: 'apiKey',
      responses: { 200: 'fulfilled', ...keyErrors, 404: 'unknown tenant or redemption', 409: 'not in a state that can be fulfilled' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/redemptions/{id}/cancellation',
      summary: 'Cancel a redemption: the points and the stock unit go back',
      tags: ['redemption'],
      auth: 'apiKey',
      responses: { 200: 'cancelled', ...keyErrors, 404: 'unknown tenant or redemption', 409: 'not in a state that can be cancelled' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/members',
      summary:
        'The members (whoever holds points or a tier) in id order, filtered by `tier`, `minBalance` and `maxBalance`; `cursor` and `limit` page',
      tags: ['members'],
      auth: 'apiKey',
      responses: { 200: 'a page of members with tier and balance', ...keyErrors, 400: 'malformed cursor, tier or balance bound' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/reports/liability',
      summary:
        'Outstanding points (spendable, unexpired) and what they are worth at `valuePerPoint` (a decimal, e.g. 0.01), in total, by tier and by the month they expire',
      tags: ['reports'],
      auth: 'apiKey',
      responses: { 200: 'the liability', ...keyErrors, 400: 'valuePerPoint missing or not a decimal of at most 6 places' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/reports/transactions',
      summary:
        'Every points movement of a period (?from=&to=, ISO instants, to exclusive, at most 366 days; ?format=csv|ndjson, default csv), ' +
        'oldest first, streamed: id, at, userId, kind, points (the change to the balance), reason, orderId, campaigns, reference, counterparty. ' +
        'CSV is RFC 4180; text starting with = + - @ tab CR or an apostrophe gets a leading apostrophe',
      tags: ['reports'],
      auth: 'apiKey',
      responses: { 200: 'the movements, as text/csv or application/x-ndjson', ...keyErrors, 400: 'from, to or format missing or invalid' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/members/{userId}',
      summary:
        "A member's balance (negative while they owe points a refund took back, where the program allows it), what they owe, " +
        'tier, spendable lots with their expiry, and progress to the next tier',
      tags: ['members'],
      auth: 'apiKey',
      responses: { 200: 'member', ...memberErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/members/{userId}/transactions',
      summary: "The wallet's history, oldest first, paginated (?cursor=&limit=)",
      tags: ['members'],
      auth: 'apiKey',
      responses: { 200: 'a page of wallet events', ...memberErrors, 400: 'malformed cursor or userId' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/members/{userId}/adjustments',
      summary:
        "An operator's correction with reason and actor (Idempotency-Key makes a retry count once); the reason is sealed as personal data",
      tags: ['members'],
      auth: 'apiKey',
      body: adjustmentBody,
      responses: {
        201: 'adjusted (the same key and body again: the first answer)',
        ...memberErrors,
        400: 'invalid input, userId or Idempotency-Key',
        409: 'would overdraw the wallet, or take it past what a wallet holds',
        422: 'Idempotency-Key already used for an adjustment with another body',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/members/{userId}/refunds',
      summary:
        'An order refunded or returned (all of it, or `amount` of its total): takes back what it earned, in proportion, never more; ' +
        "from the order's own lots, then the soonest-expiring; past the balance only if the program's refunds.allowNegativeBalance " +
        'says so (otherwise the shortfall is recorded). Idempotency-Key required: a retry takes back once',
      tags: ['members'],
      auth: 'apiKey',
      body: refundBody,
      responses: {
        201: 'taken back: points, taken from lots, owed, shortfall and the balance after',
        ...memberErrors,
        400: 'invalid input, userId or Idempotency-Key, or none sent',
        404: 'unknown tenant or member, or no points earned for this order',
        409: 'the order was refunded in full already',
        422: 'Idempotency-Key already used for a refund with another body',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/members/{userId}/transfers',
      summary:
        "Give points to another member of the tenant, within the program's `transfers` limits (per transfer, per UTC day, the balance " +
        "the sender keeps); taken from the sender's soonest-expiring lots, and expiring for the recipient when the soonest of them would. " +
        'Idempotency-Key required: a retry moves the points once',
      tags: ['members'],
      auth: 'apiKey',
      body: transferBody,
      responses: {
        201: 'transferred: transferId, points, the sender balance after and the status (credited; returned if the recipient cannot take them)',
        ...memberErrors,
        400: 'invalid input, userId or Idempotency-Key, none sent, or a transfer to oneself',
        404: 'unknown tenant, sender or recipient',
        409: 'transfers not allowed by the program, a limit reached, or not enough points',
        422: 'Idempotency-Key already used for a transfer with another body',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/members/{userId}/enrolment',
      summary:
        'Enrol a member explicitly, with their consent to the program (`consent: true`, and the `channel` they gave it on), recorded ' +
        'as events once; enrolling again changes nothing',
      tags: ['members'],
      auth: 'apiKey',
      body: enrolmentBody,
      responses: {
        201: 'enrolled: when the consent was recorded, and the balance',
        ...memberErrors,
        400: 'consent not true, or bad input',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/members/{userId}/expiring',
      summary: "The member's spendable points that expire within `days` (1-366, default 30), soonest first, and their total",
      tags: ['members'],
      auth: 'apiKey',
      responses: { 200: 'expiring points', ...memberErrors, 400: 'days not a whole number from 1 to 366, or a malformed userId' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/members/{userId}/referral-code',
      summary:
        "A member's referral code (the same every time; claimed for them on first use) and how many referees it rewarded. " +
        "A referee's qualifying event (the program's `referrals.qualifyingEvent`, from a server source) with `properties.referral_code` " +
        'rewards both sides once; never the referrer themselves (same id or e-mail), never a referee twice, never past `maxPerReferrer`',
      tags: ['members'],
      auth: 'apiKey',
      responses: { 200: 'code', ...memberErrors },
    },
    {
      method: 'post',
      path: '/t/{tenant}/webhooks',
      summary:
        'Add a webhook endpoint for rewards events (points.earned, points.spent, points.expired, points.adjusted, points.clawed_back, ' +
        'tier.changed, redemption.created, redemption.fulfilled, redemption.cancelled; `events` null for all), signed with Standard Webhooks; ' +
        'the answer shows its signing secret, once',
      tags: ['webhooks'],
      auth: 'apiKey',
      body: webhookBody.create,
      responses: {
        201: 'created, with its secret',
        400: 'invalid input (a URL not https to a public address)',
        ...keyErrors,
        409: 'too many endpoints',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/webhooks',
      summary: "The tenant's webhook endpoints (never a secret), paginated (?cursor=&limit=)",
      tags: ['webhooks'],
      auth: 'apiKey',
      responses: { 200: 'a page of endpoints', ...listErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/webhooks/{id}',
      summary: 'One endpoint with its delivery statistics',
      tags: ['webhooks'],
      auth: 'apiKey',
      responses: { 200: 'endpoint', ...webhookErrors },
    },
    {
      method: 'patch',
      path: '/t/{tenant}/webhooks/{id}',
      summary: 'Change some settings (url, description, enabled, events)',
      tags: ['webhooks'],
      auth: 'apiKey',
      body: webhookBody.change,
      responses: { 200: 'the endpoint as it now stands', 400: 'invalid input', ...webhookErrors },
    },
    {
      method: 'delete',
      path: '/t/{tenant}/webhooks/{id}',
      summary: 'Remove an endpoint and what was still to be sent to it',
      tags: ['webhooks'],
      auth: 'apiKey',
      responses: { 204: 'removed', ...webhookErrors },
    },
    {
      method: 'post',
      path: '/t/{tenant}/webhooks/{id}/secret-rotations',
      summary: 'A new signing secret (shown once); the old one signs beside it for `graceSeconds` (default a day)',
      tags: ['webhooks'],
      auth: 'apiKey',
      body: rotationBody,
      responses: { 201: 'the new secret', 400: 'invalid graceSeconds', ...webhookErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/webhooks/{id}/dead-letters',
      summary: 'Deliveries given up on (after the retries), paginated',
      tags: ['webhooks'],
      auth: 'apiKey',
      responses: { 200: 'a page of dead letters', ...webhookErrors, 400: 'malformed cursor' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/webhooks/{id}/dead-letters/{deliveryId}/retry',
      summary: 'Queue a dead letter again, with its webhook-id',
      tags: ['webhooks'],
      auth: 'apiKey',
      responses: { 202: 'queued', ...webhookErrors, 404: 'unknown tenant, endpoint or dead letter' },
    },
    {
      method: 'delete',
      path: '/t/{tenant}/webhooks/{id}/dead-letters/{deliveryId}',
      summary: 'Dismiss a dead letter',
      tags: ['webhooks'],
      auth: 'apiKey',
      responses: { 204: 'dismissed', ...webhookErrors, 404: 'unknown tenant, endpoint or dead letter' },
    },
    ...campaignsApi,
    ...parkedEventsApi,
    ...exportPartsApi,
  ],
};

/** The projector role (REWARDS_ROLE=projector) serves no client: health, metrics and its parked events. */
export const rewardsProjectorApi: ApiDescription = {
  ...rewardsApi,
  description: "rewards' earning projector: health, metrics and the administration of the events it parked.",
  operations: parkedEventsApi,
};

/** The member-facing routes: login's access token (audience urn:tessera:api) instead of the API key. */
function memberSelfApi(): ApiDescription['operations'] {
  const tokenErrors = {
    401: 'no access token, or one not valid (signature, expiry, audience)',
    403: 'an access token of another tenant',
    404: 'unknown tenant, or the member has no wallet (never earned, or erased)',
    429: "this tenant's calls in flight or writes per second on this replica are spent (Retry-After)",
  } as const;
  const route = (method: 'get' | 'post', path: string, summary: string, responses: Record<number, string>) => ({
    method,
    path: `/t/{tenant}/me/${path}`,
    summary,
    tags: ['me'],
    auth: 'accessToken' as const,
    responses: { ...tokenErrors, ...responses },
  });
  return [
    route('get', 'wallet', "The signed-in member's balance, tier, spendable lots and progress", { 200: 'wallet' }),
    route('get', 'transactions', "The member's history, oldest first (?cursor=&limit=)", { 200: 'a page', 400: 'malformed cursor' }),
    route('get', 'rewards', 'What the member can redeem now: active rewards within their dates (?category=&cursor=&limit=)', {
      200: 'a page of rewards',
    }),
    route('get', 'redemptions', "The member's redemptions (?status=&cursor=&limit=)", { 200: 'a page of redemptions' }),
    {
      ...route('post', 'redemptions', 'Redeem a reward for the signed-in member; Idempotency-Key required', {
        201: 'redeemed (a voucher code when the reward hands them out)',
        400: 'invalid body or Idempotency-Key',
        409: 'not enough points, out of stock, limit reached, inactive or tier-only',
      }),
      body: redeemBody,
    },
  ];
}
