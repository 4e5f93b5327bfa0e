import { Injectable } from '@nestjs/common';
import type { z } from 'zod';
import type { profileChanges } from '../register.schemas';
import type { ProfileAttributes } from '#contracts';
import { normaliseEmail } from '#personal-data';
import { ProblemError, RequestValidationError } from '#platform';
import type { Caller } from '../access/tenant-access';
import { emptyProfile } from '../account/account.state';
import { ReadModels } from '../read-models';
import { EmailIndex, type TenantRef } from '../register.ports';
import { RequestLimits } from '../request-limits/request-limits';
import { passwordProblems } from './password';
import { SignUp, SignUpHandler } from './sign-up.handler';

export interface SignUpInput {
  readonly email: string;
  readonly password: string;
  readonly profile?: z.infer<typeof profileChanges>;
  readonly consents?: readonly { purpose: string; policyVersion: string }[];
}

export interface SignedUp {
  readonly userId: string;
  readonly email: string;
  readonly profile: ProfileAttributes;
  readonly consents: readonly { purpose: string; policyVersion: string }[];
  readonly registeredAt: Date;
}

/**
 * A sign-up as the API and the hosted page take it: the password rules, the request limits, the
 * account, and an answer once register's read models show it. Refusals are problems (400, 409, 429).
 */
@Injectable()
export class SignUpFlow {
  constructor(
    private readonly signUps: SignUpHandler,
    private readonly readModels: ReadModels,
    private readonly limits: RequestLimits,
    private readonly emailIndex: EmailIndex,
  ) {}

  async signUp(tenant: TenantRef, caller: Caller, input: SignUpInput): Promise<SignedUp> {
    const email = normaliseEmail(input.email);
    const weak = passwordProblems(input.password, email);
    if (weak.length > 0) throw new RequestValidationError(weak.map((message) => ({ pointer: '/password', message })));
    // Counted once the request is well-formed, before argon2id: a refused sign-up costs no hash.
    await this.limits.signUp(tenant.tenantId, caller.ip, this.emailIndex.of(tenant.tenantId, email));
    const profile = { ...emptyProfile, ...input.profile };
    const consents = input.consents ?? [];
    const outcome = await this.signUps.execute(new SignUp(tenant, email, input.password, profile, consents, caller.correlationId));
    if (!outcome.registered) {
      throw new ProblemError({
        status: 409,
        type: 'email-taken',
        title: 'E-mail address already registered',
        detail: 'an account with this e-mail address exists in this tenant',
      });
    }
    await this.readModels.caughtUpWith(outcome.position);
    return { userId: outcome.userId, email, profile, consents, registeredAt: outcome.registeredAt };
  }
}
