import { z } from 'zod';
import { serviceEnvSchema } from '../../../libs/cqrs/src/service-config';
import { durationMs, loadConfig, url } from '../../../libs/platform/src/config';

const schema = serviceEnvSchema({ port: 3002 })
  .extend({
    SMTP_URL: url({ protocols: ['smtp:', 'smtps:'] }).optional(),
    MAIL_FROM: z.string().default('Tessera <no-reply@tessera.local>'),
    REGISTER_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    REGISTER_TEST_TOKEN_SECRET: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
    VERIFICATION_TOKEN_TTL_MS: durationMs({ max: 30 * 24 * 3600 * 1000 }).default(48 * 3600 * 1000),
    RESET_TOKEN_TTL_MS: durationMs({ max: 24 * 3600 * 1000 }).default(3600 * 1000),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.REGISTER_TEST_TOKEN_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['REGISTER_TEST_TOKEN_SECRET'], message: 'test tokens are refused in production: unset it' });
    }
  });

export type RegisterConfig = z.output<typeof schema>;

/** Register's configuration, from the environment, validated once at start-up. */
export function loadRegisterConfig(env: Readonly<Record<string, string | undefined>> = process.env): RegisterConfig {
  return loadConfig(schema, env);
}
