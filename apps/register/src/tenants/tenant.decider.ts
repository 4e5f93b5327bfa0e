import { accept, reject, type Decider } from '#cqrs';
import { TenantCreated, type TenantEvent } from '#contracts';

export interface CreateTenant {
  readonly tenantId: string;
  readonly slug: string;
  readonly name: string;
  readonly apiKeyHash: string;
  readonly writeKeyHash: string;
  readonly now: Date;
}

export type TenantRejection = { readonly kind: 'SlugTaken'; readonly slug: string };

/** The tenant stream is named by slug, so "slug is unique" is the stream's "no stream yet". */
export const tenantDecider: Decider<CreateTenant, TenantEvent, { readonly exists: boolean }, TenantRejection> = {
  initialState: () => ({ exists: false }),
  evolve: () => ({ exists: true }),
  decide(command, state) {
    if (state.exists) return reject({ kind: 'SlugTaken', slug: command.slug });
    return accept(
      TenantCreated({
        tenantId: command.tenantId,
        slug: command.slug,
        name: command.name,
        apiKeyHash: command.apiKeyHash,
        writeKeyHash: command.writeKeyHash,
        createdAt: command.now.toISOString(),
      }),
    );
  },
};
