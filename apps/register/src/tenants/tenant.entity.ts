import type { TenantBranding } from '#contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'register_tenants' })
export class TenantRow {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' }) tenantId!: string;
  @Column({ type: 'text', unique: true }) slug!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ name: 'api_key_hash', type: 'text' }) apiKeyHash!: string;
  @Column({ name: 'write_key_hash', type: 'text' }) writeKeyHash!: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  /** The latest TenantBrandingChanged's branding; null until the tenant sets one. */
  @Column({ type: 'jsonb', nullable: true }) branding!: TenantBranding | null;
}
