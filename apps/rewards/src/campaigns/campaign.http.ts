import { Body, Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { CommandOutcome } from '#cqrs';
import { parseBody, ProblemError, RequestValidationError } from '#platform';
import { Clock } from '../rewards.ports';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import type { BudgetState, CampaignCommand, CampaignRecord, CampaignRejection } from './campaign.decider';
import type { CampaignDefinition, CampaignEvent } from './campaign.events';
import { CampaignHandler } from './campaign.handler';
import { CAMPAIGN_ID, createCampaignBody } from './campaign.schemas';

export { createCampaignBody };

const campaignNotFound = (campaignId: string) =>
  new ProblemError({
    status: 404,
    type: 'campaign-not-found',
    title: 'Unknown campaign',
    detail: `no campaign ${campaignId} in this tenant`,
  });

/**
 * Campaigns: time-boxed earning on top of the program (see campaign.events.ts). Created whole and
 * then only stopped or archived: a running campaign's terms are what members were promised, so a
 * change is a new campaign.
 */
@Controller('t/:tenant/campaigns')
export class CampaignController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly campaigns: CampaignHandler,
    private readonly clock: Clock,
  ) {}

  /** The same id and terms again (a retry) answer the campaign as it is; other terms under a taken id, 409. */
  @Post()
  @HttpCode(201)
  create(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const { id, validFrom, ...terms } = parseBody(createCampaignBody, body);
      const now = this.clock.now();
      const campaign: CampaignDefinition = { campaignId: id, ...terms, validFrom: validFrom ?? now.toISOString() };
      const context = { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now };
      return this.answer(await this.campaigns.change({ type: 'Create', campaign, now }, context), tenant.tenantId, id);
    });
  }

  /** Every campaign not archived, oldest first, with what it gave out so far. */
  @Get()
  list(@Param('tenant') slug: string, @Req() request: IncomingRequest) {
    return this.calls.read(request, slug, async (tenant) => {
      const { campaigns } = await this.campaigns.campaigns(tenant.tenantId);
      const live = [...campaigns.values()].filter((record) => record.archivedAt === null);
      const now = this.clock.now();
      const items = await Promise.all(
        live.map(async (record) => view(record, await this.campaigns.spending(tenant.tenantId, record.definition.campaignId), now)),
      );
      return { items };
    });
  }

  @Get(':campaignId')
  show(@Param('tenant') slug: string, @Param('campaignId') campaignId: string, @Req() request: IncomingRequest) {
    return this.calls.read(request, slug, (tenant) => this.current(tenant.tenantId, campaignId));
  }

  /** Events recorded from now on earn nothing from it; what it gave stays given. */
  @Post(':campaignId/stop')
  @HttpCode(200)
  stop(@Param('tenant') slug: string, @Param('campaignId') campaignId: string, @Req() request: IncomingRequest) {
    return this.lifecycle(request, slug, campaignId, 'Stop');
  }

  /** Stops it (if it still runs) and takes it out of the list; it is still shown by id. */
  @Post(':campaignId/archive')
  @HttpCode(200)
  archive(@Param('tenant') slug: string, @Param('campaignId') campaignId: string, @Req() request: IncomingRequest) {
    return this.lifecycle(request, slug, campaignId, 'Archive');
  }

  private lifecycle(request: IncomingRequest, slug: string, campaignId: string, type: 'Stop' | 'Archive') {
    return this.calls.write(request, slug, async (tenant) => {
      if (!CAMPAIGN_ID.test(campaignId)) throw campaignNotFound(campaignId);
      const now = this.clock.now();
      const command: CampaignCommand = { type, campaignId, now };
      const context = { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now };
      return this.answer(await this.campaigns.change(command, context), tenant.tenantId, campaignId);
    });
  }

  private async answer(outcome: CommandOutcome<CampaignEvent, CampaignRejection>, tenantId: string, campaignId: string) {
    if (!outcome.accepted) throw refused(outcome.rejection);
    return this.current(tenantId, campaignId);
  }

  private async current(tenantId: string, campaignId: string) {
    const record = CAMPAIGN_ID.test(campaignId) ? (await this.campaigns.campaigns(tenantId)).campaigns.get(campaignId) : undefined;
    if (!record) throw campaignNotFound(campaignId);
    return view(record, await this.campaigns.spending(tenantId, campaignId), this.clock.now());
  }
}

function refused(rejection: CampaignRejection): ProblemError {
  switch (rejection.kind) {
    case 'InvalidCampaign':
      return new RequestValidationError(rejection.errors);
    case 'CampaignExists':
      return new ProblemError({
        status: 409,
        type: 'campaign-exists',
        title: 'Campaign id taken',
        detail: `campaign ${rejection.campaignId} exists with other terms: stop it and create a new one`,
      });
    case 'CampaignNotFound':
      return campaignNotFound(rejection.campaignId);
    case 'TooManyCampaigns':
      return new ProblemError({
        status: 409,
        type: 'too-many-campaigns',
        title: 'Too many campaigns',
        detail: `at most ${rejection.limit} campaigns that are not archived: archive one first`,
        extensions: { limit: rejection.limit },
      });
  }
}

/** Where a campaign stands at `now`: what a loyalty manager reads first. */
function statusOf(record: CampaignRecord, spending: BudgetState, now: Date) {
  const { validFrom, validUntil, limits } = record.definition;
  const at = now.toISOString();
  if (record.archivedAt !== null) return 'archived';
  if (record.stoppedAt !== null) return 'stopped';
  if (limits.budget !== null && spending.spent >= limits.budget) return 'exhausted';
  if (validUntil !== null && at >= validUntil) return 'ended';
  return at < validFrom ? 'scheduled' : 'running';
}

function view(record: CampaignRecord, spending: BudgetState, now: Date) {
  const { campaignId, ...terms } = record.definition;
  return {
    id: campaignId,
    status: statusOf(record, spending, now),
    ...terms,
    spent: spending.spent,
    awards: spending.awards,
    budgetLeft: terms.limits.budget === null ? null : Math.max(0, terms.limits.budget - spending.spent),
    createdAt: record.createdAt,
    stoppedAt: record.stoppedAt,
    archivedAt: record.archivedAt,
  };
}
