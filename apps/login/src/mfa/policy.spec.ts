import { given } from '#cqrs/testing';
import { DEFAULT_POLICY, policyDecider, secondFactorWanted, SecondFactorPolicySet, stepAfterPassword } from './policy';
import { ACR_MFA, ACR_PASSWORD } from './second-factor-step';

const now = new Date('2026-12-06T09:00:00.000Z');

describe('a tenant’s second-factor policy', () => {
  test('the step after a right password', () => {
    const optional = DEFAULT_POLICY;
    const required = { mode: 'required', requiredForClients: [] } as const;
    const forAdminApp = { mode: 'optional', requiredForClients: ['admin-app'] } as const;
    const off = { mode: 'off', requiredForClients: ['admin-app'] } as const;
    expect(stepAfterPassword(optional, false, 'app', undefined)).toBe('done');
    expect(stepAfterPassword(optional, true, 'app', undefined)).toBe('second-factor');
    expect(stepAfterPassword(required, false, 'app', undefined)).toBe('enrol');
    expect(stepAfterPassword(required, true, 'app', undefined)).toBe('second-factor');
    expect(stepAfterPassword(forAdminApp, false, 'app', undefined)).toBe('done');
    expect(stepAfterPassword(forAdminApp, false, 'admin-app', undefined)).toBe('enrol');
    // A client asking for acr mfa (step-up) gets it, whatever the tenant's optional mode says.
    expect(stepAfterPassword(optional, false, 'app', `${ACR_PASSWORD} ${ACR_MFA}`)).toBe('enrol');
    expect(stepAfterPassword(optional, false, 'app', ACR_PASSWORD)).toBe('done');
    expect(stepAfterPassword(optional, false, 'app', ['urn:tessera:acr:mfa'])).toBe('done');
    // Off: never asked, not even of those who enrolled before, nor by a client.
    expect(stepAfterPassword(off, true, 'admin-app', ACR_MFA)).toBe('done');
  });

  test('a session signed in without a second factor is stepped up when the client asks or the policy requires it, never when off', () => {
    const required = { mode: 'required', requiredForClients: [] } as const;
    const forAdminApp = { mode: 'optional', requiredForClients: ['admin-app'] } as const;
    const off = { mode: 'off', requiredForClients: ['admin-app'] } as const;
    expect(secondFactorWanted(DEFAULT_POLICY, 'app', false)).toBe(false);
    expect(secondFactorWanted(DEFAULT_POLICY, 'app', true)).toBe(true);
    expect(secondFactorWanted(required, 'app', false)).toBe(true);
    expect(secondFactorWanted(forAdminApp, 'app', false)).toBe(false);
    expect(secondFactorWanted(forAdminApp, 'admin-app', false)).toBe(true);
    expect(secondFactorWanted(off, 'admin-app', true)).toBe(false);
  });

  test('setting the policy it has records nothing; clients are a set', () => {
    const set = SecondFactorPolicySet({ mode: 'required', requiredForClients: ['a', 'b'], at: now.toISOString() });
    given(policyDecider, [])
      .when({ type: 'SetPolicy', policy: { mode: 'required', requiredForClients: ['b', 'a', 'b'] }, now })
      .then([set]);
    given(policyDecider, [set])
      .when({ type: 'SetPolicy', policy: { mode: 'required', requiredForClients: ['a', 'b'] }, now })
      .thenNothingHappens();
    given(policyDecider, []).when({ type: 'SetPolicy', policy: DEFAULT_POLICY, now }).thenNothingHappens();
  });
});
