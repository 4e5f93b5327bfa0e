import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The profile read model: what GET /me answers. Deleted, not blanked, when the person is erased. */
@Entity({ name: 'register_profiles' })
export class ProfileRow {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' }) tenantId!: string;
  @PrimaryColumn({ name: 'user_id', type: 'uuid' }) userId!: string;
  @Column({ type: 'text' }) email!: string;
  @Column({ name: 'email_verified', type: 'boolean', default: false }) emailVerified!: boolean;
  @Column({ name: 'given_name', type: 'text', nullable: true }) givenName!: string | null;
  @Column({ name: 'family_name', type: 'text', nullable: true }) familyName!: string | null;
  @Column({ type: 'text', nullable: true }) phone!: string | null;
  @Column({ type: 'text', nullable: true }) locale!: string | null;
  /** purpose → { policyVersion, grantedAt } for consents currently granted. */
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" }) consents!: Record<string, { policyVersion: string; grantedAt: string }>;
  @Column({ name: 'registered_at', type: 'timestamptz' }) registeredAt!: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
