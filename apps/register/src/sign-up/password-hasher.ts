import { hash } from '@node-rs/argon2';
import type { Counter } from 'prom-client';
import { ARGON2ID_OPTIONS } from '#contracts';
import { TenantConcurrencyLimiter, type MetricsRegistry } from '#platform';

/**
 * Every argon2id hash register works out (a sign-up's, a reset's) goes through here. argon2id is
 * register's dearest work: libuv's few threads run it, and whoever queues the most hashes takes
 * them all. So each tenant may have only so many hashes in flight in this process; past that its
 * request gets 429 with Retry-After while other tenants' hashes still find a thread within a
 * bounded wait (at most `inFlightPerTenant` hashes of each other tenant are ahead of theirs).
 * The counter makes the work observable: a refused request must not have cost a hash.
 */
export class PasswordHasher {
  private readonly hashes: Counter<'purpose'>;
  private readonly perTenant: TenantConcurrencyLimiter;

  constructor(metrics: MetricsRegistry, inFlightPerTenant: number) {
    this.perTenant = new TenantConcurrencyLimiter(inFlightPerTenant);
    this.hashes = metrics.counter({
      name: 'tessera_register_password_hashes_total',
      help: 'argon2id password hashes worked out, by purpose',
      labelNames: ['purpose'],
    });
  }

  hash(tenantId: string, password: string, purpose: 'sign-up' | 'reset'): Promise<string> {
    return this.perTenant.run(
      tenantId,
      () => {
        this.hashes.inc({ purpose });
        return hash(password, ARGON2ID_OPTIONS);
      },
      'password hashes',
    );
  }
}
