import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { CatalogController } from '../catalog/catalog.http';
import { RedemptionController } from '../redemption/redemption.http';
import { Clock } from '../rewards.ports';
import { TenantCalls } from '../shared/tenant-calls';
import type { IncomingRequest } from '../tenants/tenant-access';
import { MemberController } from './member.http';

/**
 * What a member does for themselves, with login's access token (audience urn:tessera:api) instead
 * of the tenant's API key: their balance, history and redemptions, the catalog they can redeem
 * from, and redeeming. Each answer is the tenant's own route for the member the token names, so
 * the rules, the races and the tenant's budget are the same; nothing here takes a userId from the caller.
 */
@Controller('t/:tenant/me')
export class MemberSelfController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly members: MemberController,
    private readonly redemptions: RedemptionController,
    private readonly catalog: CatalogController,
    private readonly clock: Clock,
  ) {}

  @Get('wallet')
  async wallet(@Param('tenant') slug: string, @Req() request: IncomingRequest) {
    const userId = await this.calls.asMember(request, slug);
    return this.members.show(slug, userId, request);
  }

  @Get('transactions')
  async transactions(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    const userId = await this.calls.asMember(request, slug);
    return this.members.transactions(slug, userId, request, cursor, limit);
  }

  /** The rewards a member can redeem now: active and within their dates (tier-only ones say which tiers). */
  @Get('rewards')
  async rewards(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
    @Query('category') category?: string,
  ) {
    await this.calls.asMember(request, slug);
    const page = await this.catalog.redeemable(slug, request, this.clock.now(), cursor, limit, category);
    return {
      items: page.items.map(({ id, name, cost, remaining, perMemberLimit, validUntil, category: kind, tiers }) => ({
        id,
        name,
        cost,
        available: remaining > 0,
        perMemberLimit,
        validUntil,
        category: kind,
        tiers,
      })),
      nextCursor: page.nextCursor,
    };
  }

  @Get('redemptions')
  async myRedemptions(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
    @Query('status') status?: string,
  ) {
    const userId = await this.calls.asMember(request, slug);
    return this.redemptions.list(slug, request, cursor, limit, status, userId);
  }

  /** Same Idempotency-Key, same reward: the same redemption and the same answer, as for the tenant's call. */
  @Post('redemptions')
  @HttpCode(201)
  async redeem(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    const userId = await this.calls.asMember(request, slug);
    return this.redemptions.redeem(slug, userId, request, body);
  }
}
