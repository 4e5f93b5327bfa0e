import { Injectable } from '@nestjs/common';
import type { Position } from '#eventstore';
import { ProjectionRunner } from '#cqrs';
import { ProblemError } from '#platform';

const READ_BACK_PATIENCE_MS = 5_000;

/** Rewards' read-model projection, seen from the capabilities: how to read their own writes. */
@Injectable()
export class ReadModels {
  constructor(private readonly runner: ProjectionRunner) {}

  /**
   * Waits until the read models hold `position`, at most READ_BACK_PATIENCE_MS. Past it the write
   * is answered anyway: it is stored, and the answer is read from its stream; only a list may lag
   * behind it. A projection held back (say, by a flood of another tenant's events) then slows the
   * answers, but never turns a write that took effect into an error its client would retry.
   */
  async caughtUpWith(position: Position | undefined): Promise<void> {
    if (position) await this.runner.waitFor(position, READ_BACK_PATIENCE_MS).catch(() => undefined);
  }
}

/** Cursor pagination over a key that orders rows (UUIDv7 ids, revisions): opaque to clients. */
export const encodeCursor = (key: string) => Buffer.from(key).toString('base64url');
export function decodeCursor(cursor: string | undefined): string | undefined {
  return cursor === undefined || cursor === '' ? undefined : Buffer.from(cursor, 'base64url').toString();
}

/** The key a page starts after, or a 400 when the cursor is none of ours (it would reach SQL as a key). */
export function keyAfter(cursor: string | undefined, key: RegExp): string | undefined {
  const after = decodeCursor(cursor);
  if (after !== undefined && !key.test(after))
    throw new ProblemError({
      status: 400,
      type: 'invalid-cursor',
      title: 'Invalid cursor',
      detail: 'use the nextCursor of a previous page',
    });
  return after;
}

export function pageLimit(raw: string | undefined, fallback = 50): number {
  const limit = raw === undefined ? fallback : Number(raw);
  return Number.isInteger(limit) && limit >= 1 && limit <= 500 ? limit : fallback;
}
