import type { ApiOperation } from '#platform';
import { tierAssignmentBody } from '../wallet/tier.http';
import { createCampaignBody } from './campaign.schemas';

const keyErrors = {
  401: 'no or unknown API key',
  403: 'API key of another tenant',
  429: "this tenant's calls in flight or writes per second on this replica are spent (Retry-After)",
} as const;
const oneCampaign = { ...keyErrors, 404: 'unknown tenant or campaign' } as const;

/** The campaign routes of rewards' API (see rewards.api.ts). */
export const campaignsApi: readonly ApiOperation[] = [
  {
    method: 'post',
    path: '/t/{tenant}/campaigns',
    summary:
      'Create a campaign: time-boxed earning on an event (window, days and hours in a time zone, conditions on its properties), ' +
      "a bonus and/or a multiplier of the program's points (per tier too), per-member limits, first orders only, and a total budget " +
      'that stops it when spent. The same id and terms again answer the campaign as it is',
    tags: ['campaigns'],
    auth: 'apiKey',
    body: createCampaignBody,
    responses: {
      201: 'the campaign, with its status and what it gave out',
      400: 'invalid campaign (each error names its JSON pointer)',
      ...keyErrors,
      404: 'unknown tenant',
      409: 'the id is taken by a campaign with other terms, or too many campaigns are not archived',
    },
  },
  {
    method: 'get',
    path: '/t/{tenant}/campaigns',
    summary: 'Every campaign not archived, with its status (scheduled, running, exhausted, ended, stopped) and spending',
    tags: ['campaigns'],
    auth: 'apiKey',
    responses: { 200: 'campaigns', ...keyErrors, 404: 'unknown tenant' },
  },
  {
    method: 'get',
    path: '/t/{tenant}/campaigns/{campaignId}',
    summary: 'One campaign, archived ones included',
    tags: ['campaigns'],
    auth: 'apiKey',
    responses: { 200: 'campaign', ...oneCampaign },
  },
  {
    method: 'post',
    path: '/t/{tenant}/campaigns/{campaignId}/stop',
    summary: 'Stop a campaign: events recorded from now on earn nothing from it (again: nothing changes)',
    tags: ['campaigns'],
    auth: 'apiKey',
    responses: { 200: 'campaign', ...oneCampaign },
  },
  {
    method: 'post',
    path: '/t/{tenant}/campaigns/{campaignId}/archive',
    summary: 'Stop a campaign and take it out of the list',
    tags: ['campaigns'],
    auth: 'apiKey',
    responses: { 200: 'campaign', ...oneCampaign },
  },
  {
    method: 'post',
    path: '/t/{tenant}/members/{userId}/tier',
    summary:
      "Set a member's tier by hand, with the reason and the actor on record (the reason sealed as personal data); the next review " +
      'is a tier period away. The same tier again changes nothing',
    tags: ['members'],
    auth: 'apiKey',
    body: tierAssignmentBody,
    responses: {
      200: 'the tier and its next review',
      400: 'invalid input, or a tier the program does not have (/tier)',
      ...keyErrors,
      404: 'unknown tenant or member',
    },
  },
];
