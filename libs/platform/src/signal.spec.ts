import { fork } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import request from 'supertest';

describe('signals', () => {
  test.each(['SIGTERM', 'SIGINT'] as const)('%s stops a running service gracefully and exits 0', async (signal) => {
    const child = fork(join(__dirname, 'testing', 'signal-child.ts'), [], {
      execArgv: ['--require', join(__dirname, 'testing', 'ts-require-hook.js')],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.resume();
    try {
      const [{ url }] = (await once(child, 'message')) as [{ url: string }];
      await request(url).get('/ping').expect(200);
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code, killedBy] = await exited;
      expect({ code, killedBy }).toEqual({ code: 0, killedBy: null });
      const messages = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg?: string; reason?: string });
      expect(messages).toContainEqual(expect.objectContaining({ msg: 'draining: readiness now fails', reason: signal }));
      expect(messages.map((m) => m.msg)).toContain('stopped');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
