import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox. An endpoint is where a tenant's webhooks go (the app keeps its settings; this is what
 * delivery needs of them). A delivery is one HTTP request to come: one message or a batch of them,
 * with a webhook-id fixed when it is enqueued so that every retry carries the same one. Delivered
 * rows are deleted; dead ones stay until retried or dismissed. Replays are jobs that enqueue a
 * range of the log again, in their own lane.
 */
export const OUTBOUND_DDL = [
  `CREATE TABLE IF NOT EXISTS outbound_endpoints (
     tenant_id text NOT NULL,
     endpoint_id text NOT NULL,
     url text NOT NULL,
     -- [{"sealed": "...", "validUntil": null | ISO}]: sealed with SecretBox, newest first.
     secrets jsonb NOT NULL,
     enabled boolean NOT NULL,
     ordered boolean NOT NULL,
     batch_max integer NOT NULL,
     batch_wait_ms integer NOT NULL DEFAULT 0,
     failures integer NOT NULL DEFAULT 0,
     open_until timestamptz,
     delivered bigint NOT NULL DEFAULT 0,
     failed bigint NOT NULL DEFAULT 0,
     retried bigint NOT NULL DEFAULT 0,
     dead bigint NOT NULL DEFAULT 0,
     last_delivered_at timestamptz,
     last_error text,
     PRIMARY KEY (tenant_id, endpoint_id)
   )`,
  `CREATE TABLE IF NOT EXISTS outbound_deliveries (
     id bigserial PRIMARY KEY,
     tenant_id text NOT NULL,
     endpoint_id text NOT NULL,
     webhook_id text NOT NULL,
     lane text NOT NULL,
     state text NOT NULL DEFAULT 'pending',
     items jsonb NOT NULL,
     item_count integer NOT NULL,
     first_position text NOT NULL,
     last_position text NOT NULL,
     event_at timestamptz NOT NULL,
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at timestamptz NOT NULL DEFAULT now(),
     leased_until timestamptz,
     lease_token uuid,
     last_error text,
     last_status integer,
     created_at timestamptz NOT NULL DEFAULT now(),
     dead_at timestamptz,
     UNIQUE (tenant_id, endpoint_id, webhook_id)
   )`,
  `CREATE INDEX IF NOT EXISTS outbound_deliveries_pending ON outbound_deliveries (tenant_id, endpoint_id, lane, id) WHERE state = 'pending'`,
  `CREATE INDEX IF NOT EXISTS outbound_deliveries_dead ON outbound_deliveries (tenant_id, endpoint_id, id) WHERE state = 'dead'`,
  `CREATE TABLE IF NOT EXISTS outbound_replays (
     id uuid PRIMARY KEY,
     tenant_id text NOT NULL,
     endpoint_id text NOT NULL,
     from_position text,
     from_time timestamptz,
     to_position text,
     to_time timestamptz,
     -- The log's head when the replay was asked: nothing after it is replayed (live delivery has it).
     stop_position text,
     cursor text,
     state text NOT NULL DEFAULT 'running',
     enqueued integer NOT NULL DEFAULT 0,
     leased_until timestamptz,
     created_at timestamptz NOT NULL DEFAULT now(),
     finished_at timestamptz
   )`,
  `CREATE INDEX IF NOT EXISTS outbound_replays_running ON outbound_replays (created_at) WHERE state = 'running'`,
];

/** For a service's migration list: the outbox tables (idempotent, so any service may run it first). */
export class OutboundTables1765300000000 implements MigrationInterface {
  name = 'OutboundTables1765300000000';

  async up(runner: QueryRunner): Promise<void> {
    for (const statement of OUTBOUND_DDL) await runner.query(statement);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS outbound_replays');
    await runner.query('DROP TABLE IF EXISTS outbound_deliveries');
    await runner.query('DROP TABLE IF EXISTS outbound_endpoints');
  }
}
