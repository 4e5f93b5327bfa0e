import 'reflect-metadata';
import { runService } from '#platform';
import { loadLoginConfig } from './login.config';
import { LoginModule } from './login.module';
import { loginServiceOptions, openLoginRuntime } from './login.runtime';

async function main(): Promise<void> {
  const config = loadLoginConfig();
  const runtime = await openLoginRuntime(config);
  // The migrations Job's command: the schema is this release's once the runtime is open.
  if (config.MIGRATE === 'only') return runtime.infrastructure.close();
  await runService(LoginModule.forRoot(runtime), loginServiceOptions(config));
}

main().catch((error: unknown) => {
  // Configuration errors name the bad variables and never their values; anything else is a start-up failure.
  process.stderr.write(`login failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
