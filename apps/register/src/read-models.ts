import { Injectable } from '@nestjs/common';
import type { Position } from '#eventstore';
import { ProjectionRunner } from '#cqrs';

/** Register's read-model projection, seen from the capabilities: how to read their own writes. */
@Injectable()
export class ReadModels {
  constructor(private readonly runner: ProjectionRunner) {}

  /** Resolves once the read models include the event at `position`; no-op without a position. */
  async caughtUpWith(position: Position | undefined): Promise<void> {
    if (position) await this.runner.waitFor(position);
  }
}
