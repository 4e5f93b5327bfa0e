import 'reflect-metadata';
import { runService } from '#platform';
import { loadRewardsConfig } from './rewards.config';
import { RewardsModule } from './rewards.module';
import { openRewardsRuntime, rewardsServiceOptions } from './rewards.runtime';

async function main(): Promise<void> {
  const config = loadRewardsConfig();
  const runtime = await openRewardsRuntime(config);
  // The migrations Job's command: the schema is this release's once the runtime is open.
  if (config.MIGRATE === 'only') return runtime.infrastructure.close();
  await runService(RewardsModule.forRoot(runtime), rewardsServiceOptions(config));
}

main().catch((error: unknown) => {
  // Configuration errors name the bad variables and never their values; anything else is a start-up failure.
  process.stderr.write(`rewards failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
