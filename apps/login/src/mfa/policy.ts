import { randomUUID } from 'node:crypto';
import { accept, defineEvent, type CommandRunner, type Decider, type EventOf } from '#cqrs';
import { ExpiringLruCache } from '#platform';
import { ACR_MFA } from './second-factor-step';

/** How long a process keeps a tenant's policy it read; another process's change reaches it within this. */
export const POLICY_CACHE_MS = 2_000;

/**
 * A tenant's second-factor policy: `off` (never asked, not offered), `optional` (asked of those who
 * enrolled; the default), `required` (everyone enrols at their next sign-in); `requiredForClients`
 * asks it of everyone signing in to those clients even when the tenant's mode is optional.
 */
export interface SecondFactorPolicy {
  readonly mode: 'off' | 'optional' | 'required';
  readonly requiredForClients: readonly string[];
}

export const SecondFactorPolicySet = defineEvent<{ mode: SecondFactorPolicy['mode']; requiredForClients: string[]; at: string }>()(
  'SecondFactorPolicySet',
);
export const policyEvents = [SecondFactorPolicySet];
type PolicyEvent = EventOf<typeof SecondFactorPolicySet>;
type SetPolicy = { readonly type: 'SetPolicy'; readonly policy: SecondFactorPolicy; readonly now: Date };

export const DEFAULT_POLICY: SecondFactorPolicy = { mode: 'optional', requiredForClients: [] };
export const policyStreamFor = (tenantId: string) => `login.mfa-policy-${tenantId}`;

export const policyDecider: Decider<SetPolicy, PolicyEvent, SecondFactorPolicy, never> = {
  initialState: () => DEFAULT_POLICY,
  evolve: (_state, event) => ({ mode: event.data.mode, requiredForClients: event.data.requiredForClients }),
  decide({ policy, now }, state) {
    const clients = [...new Set(policy.requiredForClients)].sort();
    if (state.mode === policy.mode && clients.join('\n') === [...state.requiredForClients].sort().join('\n')) return accept();
    return accept(SecondFactorPolicySet({ mode: policy.mode, requiredForClients: clients, at: now.toISOString() }));
  },
};

/** What a sign-in needs after a right password. */
export type SignInStep = 'done' | 'second-factor' | 'enrol';

/**
 * The step after the password, from the tenant's policy, whether the person has a factor, the
 * client, and the `acr_values` the client asked for (asking for ACR_MFA is a step-up request).
 */
export function stepAfterPassword(policy: SecondFactorPolicy, enrolled: boolean, clientId: string, acrValues: unknown): SignInStep {
  if (policy.mode === 'off') return 'done';
  if (enrolled) return 'second-factor';
  const asked = typeof acrValues === 'string' && acrValues.split(' ').includes(ACR_MFA);
  const required = policy.mode === 'required' || policy.requiredForClients.includes(clientId) || asked;
  return required ? 'enrol' : 'done';
}

/**
 * Whether a session that signed in without a second factor must be stepped up before it signs in
 * to `clientId`: the client asked for one (acr_values), or the policy requires one of everyone or
 * of that client; never when the tenant turned second factors off.
 */
export function secondFactorWanted(policy: SecondFactorPolicy, clientId: string, asked: boolean): boolean {
  if (policy.mode === 'off') return false;
  return asked || policy.mode === 'required' || policy.requiredForClients.includes(clientId);
}

/**
 * The tenants' policies, read from their streams and set by the admin API. A sign-in reads the
 * policy of its tenant, so each process keeps what it read for a moment (POLICY_CACHE_MS): a change
 * applies at once on the process that made it and within that moment on the others.
 */
export class SecondFactorPolicies {
  private readonly cache = new ExpiringLruCache<SecondFactorPolicy>(10_000, POLICY_CACHE_MS);

  constructor(private readonly commands: CommandRunner) {}

  async of(tenantId: string): Promise<SecondFactorPolicy> {
    const cached = this.cache.get(tenantId);
    if (cached) return cached;
    const { state } = await this.commands.load(policyStreamFor(tenantId), policyDecider);
    this.cache.set(tenantId, state);
    return state;
  }

  async set(tenantId: string, policy: SecondFactorPolicy): Promise<void> {
    const now = new Date();
    await this.commands.handle({
      streamName: policyStreamFor(tenantId),
      decider: policyDecider,
      command: { type: 'SetPolicy', policy, now },
      context: { tenantId, correlationId: randomUUID(), now },
      retriesOnConflict: 2,
    });
    this.cache.delete(tenantId);
  }
}
