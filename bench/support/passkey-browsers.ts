import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TransferredPasskey } from '../../test/support/software-authenticator';
import { measuredWindow, type LoopsRun, type Throughput } from './measure';

export interface PasskeyBrowsersData {
  readonly loginUrl: string;
  readonly slug: string;
  readonly clientId: string;
  readonly redirectUri: string;
  /** Connections to login: one per concurrent sign-in. */
  readonly sockets: number;
  readonly passkeys: readonly TransferredPasskey[];
}

type Asked =
  | { readonly kind: 'open-pages'; readonly count: number }
  | { readonly kind: 'sign-ins'; readonly concurrency: number; readonly windowMs: number };

export type PasskeyBrowsersRequest = Asked & { readonly id: number };

/** A request's answer: its id, what it produced, and the error's message if it failed. */
export interface PasskeyBrowsersAnswer {
  readonly id: number;
  readonly result?: LoopsRun;
  readonly error?: string;
}

/**
 * The people's browsers and authenticators, on a thread of their own (passkey-browser-thread.ts):
 * a browser and a security key never share login's event loop, and in this process they would
 * take a fair part of it from a row that event loop limits. The closed loops run there too, each
 * sign-in one step answered before the next is asked for, timed where a browser would time it;
 * only the window's outcome crosses to this thread, not a message per sign-in. Their CPU still
 * counts (same process).
 */
export class PasskeyBrowsers {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (answer: PasskeyBrowsersAnswer) => void>();
  private next = 0;

  constructor(data: PasskeyBrowsersData) {
    // Compiled alongside this file (the bench runs from dist/).
    this.worker = new Worker(join(__dirname, 'passkey-browser-thread.js'), { workerData: data });
    this.worker.on('message', (answer: PasskeyBrowsersAnswer) => {
      this.pending.get(answer.id)?.(answer);
      this.pending.delete(answer.id);
    });
    // A thread that dies fails every request waiting on it, rather than leaving the window hanging.
    this.worker.on('error', (error) => {
      for (const [id, settle] of this.pending) settle({ id, error: error.message });
      this.pending.clear();
    });
  }

  /** Sign-in pages opened, untimed, for the window that follows. */
  async openPages(count: number): Promise<void> {
    await this.ask({ kind: 'open-pages', count });
  }

  /**
   * `concurrency` people signing in over and over for `windowMs`, each from a page opened before
   * (or then, past those) to the code, with the machine's CPU over the window.
   */
  signIns(concurrency: number, windowMs: number): Promise<Throughput> {
    return measuredWindow(async () => {
      const run = await this.ask({ kind: 'sign-ins', concurrency, windowMs });
      if (!run) throw new Error('the browsers reported no window');
      return run;
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }

  private ask(request: Asked): Promise<LoopsRun | undefined> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (answer) => (answer.error === undefined ? resolve(answer.result) : reject(new Error(answer.error))));
      this.worker.postMessage({ ...request, id });
    });
  }
}
