import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { runService } from '#platform';
import { NoErasureLedger } from './erasure/erasure-ledger';
import { recoverErasures } from './erasure/erasure-recovery';
import { loadRegisterConfig } from './register.config';
import { RegisterModule } from './register.module';
import { openRegisterRuntime, registerServiceOptions } from './register.runtime';

async function main(): Promise<void> {
  const config = loadRegisterConfig();
  const runtime = await openRegisterRuntime(config);
  // The migrations Job's command: the schema is this release's once the runtime is open.
  if (config.MIGRATE === 'only') return runtime.infrastructure.close();
  // The recovery Job's command, after a restore and before the services start (README, Operations).
  if (config.RECOVER === 'only') {
    const { eventStore: store, codec, personalData } = runtime.infrastructure;
    const ledger = runtime.erasureLedger ?? new NoErasureLedger();
    const report = await recoverErasures({ ledger, store, codec, personalData }, new Date(), randomUUID());
    process.stdout.write(`${JSON.stringify({ msg: 'erasures recovered from the ledger', ...report })}\n`);
    return runtime.infrastructure.close();
  }
  await runService(RegisterModule.forRoot(runtime), registerServiceOptions(config));
}

main().catch((error: unknown) => {
  // Configuration errors name the bad variables and never their values; anything else is a start-up failure.
  process.stderr.write(`register failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
