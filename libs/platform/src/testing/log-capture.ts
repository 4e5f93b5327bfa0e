import type { DestinationStream } from 'pino';

/** A pino destination that keeps every JSON line, for asserting what the service logged. */
export class LogCapture implements DestinationStream {
  private raw = '';

  write(chunk: string): void {
    this.raw += chunk;
  }

  /** Everything written, exactly as it would have reached stdout. */
  get text(): string {
    return this.raw;
  }

  get entries(): Array<Record<string, unknown>> {
    return this.raw
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}
