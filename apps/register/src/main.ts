import 'reflect-metadata';
import { runService } from '#platform';
import { loadRegisterConfig } from './register.config';
import { RegisterModule } from './register.module';
import { openRegisterRuntime, registerServiceOptions } from './register.runtime';

async function main(): Promise<void> {
  const config = loadRegisterConfig();
  const runtime = await openRegisterRuntime(config);
  // The migrations Job's command: the schema is this release's once the runtime is open.
  if (config.MIGRATE === 'only') return runtime.infrastructure.close();
  await runService(RegisterModule.forRoot(runtime), registerServiceOptions(config));
}

main().catch((error: unknown) => {
  // Configuration errors name the bad variables and never their values; anything else is a start-up failure.
  process.stderr.write(`register failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
