import 'reflect-metadata';
import { runService } from '#platform';
import { loadPulseConfig } from './pulse.config';
import { PulseModule } from './pulse.module';
import { openPulseRuntime, pulseServiceOptions } from './pulse.runtime';

async function main(): Promise<void> {
  const config = loadPulseConfig();
  const runtime = await openPulseRuntime(config);
  // The migrations Job's command: the schema is this release's once the runtime is open.
  if (config.MIGRATE === 'only') return runtime.infrastructure.close();
  await runService(PulseModule.forRoot(runtime), pulseServiceOptions(config));
}

main().catch((error: unknown) => {
  // Configuration errors name the bad variables and never their values; anything else is a start-up failure.
  process.stderr.write(`pulse failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
