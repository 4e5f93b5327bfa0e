import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TransferredPasskey } from '../../test/support/software-authenticator';

export interface PasskeyBrowsersData {
  readonly loginUrl: string;
  readonly slug: string;
  readonly clientId: string;
  readonly redirectUri: string;
  /** Connections to login: one per concurrent sign-in. */
  readonly sockets: number;
  readonly passkeys: readonly TransferredPasskey[];
}

type Asked = { readonly kind: 'open-pages'; readonly count: number } | { readonly kind: 'sign-in'; readonly person: number };

export type PasskeyBrowsersRequest = Asked & { readonly id: number };

/**
 * The people's browsers and authenticators, on a thread of their own (passkey-browser-thread.ts):
 * a browser and a security key never share login's event loop, and in this process they would
 * take a fair part of it from a row that event loop limits. Their CPU still counts (same process),
 * and the loops stay closed: each sign-in is one step, answered before the next is asked for.
 */
export class PasskeyBrowsers {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (error?: string) => void>();
  private next = 0;

  constructor(data: PasskeyBrowsersData) {
    // Compiled alongside this file (the bench runs from dist/).
    this.worker = new Worker(join(__dirname, 'passkey-browser-thread.js'), { workerData: data });
    this.worker.on('message', (answer: { id: number; error?: string }) => {
      this.pending.get(answer.id)?.(answer.error);
      this.pending.delete(answer.id);
    });
    // A thread that dies fails every sign-in waiting on it, rather than leaving the window hanging.
    this.worker.on('error', (error) => {
      for (const settle of this.pending.values()) settle(error.message);
      this.pending.clear();
    });
  }

  /** Sign-in pages opened, untimed, for the window that follows. */
  openPages(count: number): Promise<void> {
    return this.ask({ kind: 'open-pages', count });
  }

  /** One sign-in of `person` (by index), from a page opened before (or now, past those) to the code. */
  async signIn(person: number): Promise<number> {
    await this.ask({ kind: 'sign-in', person });
    return 1;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }

  private ask(request: Asked): Promise<void> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (error) => (error === undefined ? resolve() : reject(new Error(error))));
      this.worker.postMessage({ ...request, id });
    });
  }
}
