import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CHECKPOINTS_DDL } from '#cqrs';
import { exportPartsMigration, exportPendingMigration, INITIAL_API_KEY_ID } from '#contracts';
import { tenantKeysTableDdl } from '#tenant-keys';

/** Rewards' read models. Every row starts with its tenant; primary keys lead with it. */
export class RewardsReadModels1732360000000 implements MigrationInterface {
  name = 'RewardsReadModels1732360000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(CHECKPOINTS_DDL);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_tenants (
        tenant_id uuid PRIMARY KEY,
        slug text NOT NULL UNIQUE,
        api_key_hash text NOT NULL UNIQUE
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_catalog (
        tenant_id uuid NOT NULL,
        reward_id uuid NOT NULL,
        name text NOT NULL,
        cost integer NOT NULL,
        stock integer NOT NULL,
        held integer NOT NULL DEFAULT 0,
        per_member_limit integer,
        valid_from timestamptz NOT NULL,
        valid_until timestamptz,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, reward_id)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_redemptions (
        tenant_id uuid NOT NULL,
        redemption_id uuid NOT NULL,
        user_id text NOT NULL,
        reward_id uuid NOT NULL,
        cost integer NOT NULL,
        status text NOT NULL,
        reason text,
        requested_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, redemption_id)
      )`);
    await runner.query(
      "CREATE INDEX IF NOT EXISTS rewards_redemptions_unfinished ON rewards_redemptions (updated_at) WHERE status IN ('requested', 'cancelling')",
    );
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_lots (
        tenant_id uuid NOT NULL,
        user_id text NOT NULL,
        lot_id text NOT NULL,
        remaining integer NOT NULL,
        expires_at timestamptz,
        PRIMARY KEY (tenant_id, user_id, lot_id)
      )`);
    await runner.query('CREATE INDEX IF NOT EXISTS rewards_lots_expiring ON rewards_lots (expires_at) WHERE remaining > 0');
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_members (
        tenant_id uuid NOT NULL,
        user_id text NOT NULL,
        tier text,
        tier_review_at timestamptz,
        PRIMARY KEY (tenant_id, user_id)
      )`);
    await runner.query('CREATE INDEX IF NOT EXISTS rewards_members_review ON rewards_members (tier_review_at)');
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['rewards_members', 'rewards_lots', 'rewards_redemptions', 'rewards_catalog', 'rewards_tenants'])
      await runner.query(`DROP TABLE IF EXISTS ${table}`);
  }
}

/**
 * Members erased so far, as digests (see erasureDigest in rewards.projection.ts): lets the
 * projection keep an erased member's id out of rows it writes after the erasure.
 */
export class RewardsErasedMembers1732360000001 implements MigrationInterface {
  name = 'RewardsErasedMembers1732360000001';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_erased_members (
        tenant_id uuid NOT NULL,
        member_digest text NOT NULL,
        PRIMARY KEY (tenant_id, member_digest)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS rewards_erased_members');
  }
}

/**
 * What a lot holds is summed into its row by every redemption, refund and expiry, so the column
 * takes what any stored event can put there: bigint (a lot is one award's worth at most since
 * awards are capped, but events stored before that could hold more than an integer). The other
 * numeric columns stay integers, bounded by the catalog decider: a cost is at most BOUNDS.points,
 * stock, held units and per-member limits at most BOUNDS.quantity. Balances and points in a period
 * are folded from the wallet stream, never stored. Also: the recovery sweep's index covers
 * redemptions left declining (paid, stock refused, refund unfinished).
 *
 * ALTER ... TYPE rewrites the table under an exclusive lock: in place on a populated database,
 * every row kept, taking as long as a copy of rewards_lots (projections wait, requests do not).
 */
export class RewardsBoundedTotals1733500000000 implements MigrationInterface {
  name = 'RewardsBoundedTotals1733500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE rewards_lots ALTER COLUMN remaining TYPE bigint');
    await runner.query('DROP INDEX IF EXISTS rewards_redemptions_unfinished');
    await runner.query(
      "CREATE INDEX IF NOT EXISTS rewards_redemptions_unfinished ON rewards_redemptions (updated_at) WHERE status IN ('requested', 'cancelling', 'declining')",
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX IF EXISTS rewards_redemptions_unfinished');
    await runner.query(
      "CREATE INDEX IF NOT EXISTS rewards_redemptions_unfinished ON rewards_redemptions (updated_at) WHERE status IN ('requested', 'cancelling')",
    );
    await runner.query('ALTER TABLE rewards_lots ALTER COLUMN remaining TYPE integer');
  }
}

/**
 * Tenant keys by hash (see #tenant-keys), which rotation and revocation change one by one. The API
 * keys of tenants created so far are copied from rewards_tenants (which holds no write key: rewards
 * never took one); the projection adds later tenants and keys.
 */
export class RewardsTenantKeys1765200000000 implements MigrationInterface {
  name = 'RewardsTenantKeys1765200000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(tenantKeysTableDdl('rewards_tenant_keys'));
    await runner.query(
      `INSERT INTO rewards_tenant_keys (key_hash, tenant_id, key_id, kind, valid_from)
       SELECT api_key_hash, tenant_id, $1, 'api', '-infinity'::timestamptz FROM rewards_tenants ON CONFLICT DO NOTHING`,
      [INITIAL_API_KEY_ID],
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS rewards_tenant_keys');
  }
}

/**
 * Catalog management and refunds: a reward's category (the list filters by it), whether it is active, the
 * tiers it is reserved for and the kind of voucher codes it hands out (never the codes: those
 * stay sealed in the reward's stream). Rewards created before read as active, for everyone,
 * without category or codes, which is what they were. Columns with defaults: no table rewrite.
 */
export class RewardsCatalogManagement1765300000000 implements MigrationInterface {
  name = 'RewardsCatalogManagement1765300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE rewards_catalog
        ADD COLUMN IF NOT EXISTS category text,
        ADD COLUMN IF NOT EXISTS active boolean NOT NULL DEFAULT true,
        ADD COLUMN IF NOT EXISTS tiers text[],
        ADD COLUMN IF NOT EXISTS voucher_kind text`);
    // Points a member owes after refunds beyond their balance (where the program allows it).
    await runner.query('ALTER TABLE rewards_members ADD COLUMN IF NOT EXISTS owed bigint NOT NULL DEFAULT 0');
    await runner.query('CREATE INDEX IF NOT EXISTS rewards_catalog_category ON rewards_catalog (tenant_id, category, reward_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE rewards_members DROP COLUMN IF EXISTS owed');
    await runner.query('DROP INDEX IF EXISTS rewards_catalog_category');
    await runner.query(
      'ALTER TABLE rewards_catalog DROP COLUMN IF EXISTS voucher_kind, DROP COLUMN IF EXISTS tiers, DROP COLUMN IF EXISTS active, DROP COLUMN IF EXISTS category',
    );
  }
}

/** The admin list of redemptions filters by member: one member's in redemption-id order. */
export class RewardsRedemptionsByMember1765400000000 implements MigrationInterface {
  name = 'RewardsRedemptionsByMember1765400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE INDEX IF NOT EXISTS rewards_redemptions_member ON rewards_redemptions (tenant_id, user_id, redemption_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX IF EXISTS rewards_redemptions_member');
  }
}

/** Webhook endpoints (their settings and sealed secrets, as the decider folds them); the outbox's tables are #outbound's. */
export class RewardsWebhooks1765550000000 implements MigrationInterface {
  name = 'RewardsWebhooks1765550000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_webhooks (
        tenant_id uuid NOT NULL,
        endpoint_id uuid NOT NULL,
        state jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, endpoint_id)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS rewards_webhooks');
  }
}

/**
 * Register's e-mail blind index of each member who signed up (never the address): the referral
 * guard refuses a referee with the referrer's address under another member id. Erasure deletes the row.
 */
export class RewardsMemberEmails1765550000001 implements MigrationInterface {
  name = 'RewardsMemberEmails1765550000001';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_member_emails (
        tenant_id uuid NOT NULL,
        user_id text NOT NULL,
        email_index text NOT NULL,
        PRIMARY KEY (tenant_id, user_id)
      )`);
    // Whether a lot's expiry reminder went out (PointsExpiringSoon); a column with a default: no table rewrite.
    await runner.query('ALTER TABLE rewards_lots ADD COLUMN IF NOT EXISTS reminded boolean NOT NULL DEFAULT false');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE rewards_lots DROP COLUMN IF EXISTS reminded');
    await runner.query('DROP TABLE IF EXISTS rewards_member_emails');
  }
}

/** Rewards' sections of exports (wallets, lots, transactions, redemptions), sealed under each export's key. */
export const RewardsExportParts1765600000003 = exportPartsMigration('rewards_export_parts', 'RewardsExportParts1765600000003');

/**
 * Every points movement of a tenant's members, for finance's export of a period: read in keyset
 * pages of (at, event_id) within the tenant. Erasure deletes a member's rows.
 */
export class RewardsTransactions1765620000000 implements MigrationInterface {
  name = 'RewardsTransactions1765620000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS rewards_transactions (
        tenant_id uuid NOT NULL,
        event_id uuid NOT NULL,
        user_id text NOT NULL,
        at timestamptz NOT NULL,
        kind text NOT NULL,
        points bigint NOT NULL,
        reason text,
        order_id text,
        campaigns jsonb,
        reference text,
        counterparty text,
        PRIMARY KEY (tenant_id, event_id)
      )`);
    await runner.query('CREATE INDEX IF NOT EXISTS rewards_transactions_period ON rewards_transactions (tenant_id, at, event_id)');
    await runner.query('CREATE INDEX IF NOT EXISTS rewards_transactions_member ON rewards_transactions (tenant_id, user_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS rewards_transactions');
  }
}

/** Rewards's export sections still to write, with the lease of the writer at work on each (see export-sections.ts). */
export const RewardsExportsPending1765680000003 = exportPendingMigration('rewards_export_parts', 'RewardsExportsPending1765680000003');
