import { randomBytes } from 'node:crypto';
import { ConfigError } from '../src/config';

/** The least environment an event-sourced service starts with (see libs/cqrs service-config). */
export function minimalServiceEnv(): Record<string, string> {
  return {
    DATABASE_URL: 'postgres://u:p@localhost:5432/tessera',
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
    ADMIN_TOKEN: 'a'.repeat(40),
  };
}

/** The variables a configuration loader refuses, sorted; empty when it accepts the environment. */
export function configProblems(load: (env: Record<string, string>) => unknown, env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => problem.variable).sort();
    throw error;
  }
  return [];
}
