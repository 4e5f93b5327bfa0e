import { runService } from '../service-app';
import { TinyServiceModule } from './tiny-service';

// Started by signal.spec.ts in its own process: tells the parent where it listens, then waits for a signal.
void runService(TinyServiceModule, {
  serviceName: 'signal-child',
  processMetrics: false,
  http: { host: '127.0.0.1', port: 0 },
  shutdown: { drainDelayMs: 100, inFlightTimeoutMs: 5000 },
}).then(({ url }) => process.send?.({ url }));
