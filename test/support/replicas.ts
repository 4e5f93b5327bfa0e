import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const repoRoot = resolve(__dirname, '../..');

/** Where the drill's compiled services live: inside the repo, so `require` finds node_modules. */
export const drillBuildDir = join(repoRoot, 'node_modules/.cache/tessera-drill');

/**
 * Compiles the given service entry points (e.g. `apps/register/src/main.ts`) to plain JavaScript
 * without type-checking (`npm test` type-checks the whole tree first), so each drill runs the
 * current source as a real `node` process would, and a half-written sibling service cannot break it.
 * A spec that may run beside the drill (jest runs files in parallel) compiles into a `buildDir` of its own.
 */
export function compileServices(entries: readonly string[], buildDir = drillBuildDir): void {
  // tsc takes named files only through a project file; this one lives beside the output, with absolute paths.
  mkdirSync(buildDir, { recursive: true });
  const project = join(buildDir, '..', `tessera-drill-${process.pid}.tsconfig.json`);
  writeFileSync(
    project,
    JSON.stringify({
      extends: join(repoRoot, 'tsconfig.build.json'),
      compilerOptions: { outDir: buildDir, rootDir: repoRoot, noCheck: true, incremental: false },
      include: [],
      files: entries.map((entry) => join(repoRoot, entry)),
    }),
  );
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', project], { cwd: repoRoot, encoding: 'utf8' });
  rmSync(project, { force: true });
  if (result.status !== 0) throw new Error(`compiling ${entries.join(', ')} failed:\n${result.stdout}${result.stderr}`);
  for (const entry of entries) {
    if (!existsSync(compiledEntry(entry, buildDir))) throw new Error(`tsc did not emit ${compiledEntry(entry, buildDir)}`);
  }
  writeDrillImports(buildDir);
}

/**
 * The compiled services enter the libraries through package.json "imports" (#platform, ...), which
 * Node resolves from the nearest package.json: the drill's own, pointing into the drill's output
 * instead of dist/.
 */
function writeDrillImports(buildDir: string): void {
  const { imports } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { imports: Record<string, { default: string }> };
  const drillImports = Object.fromEntries(
    Object.entries(imports).map(([name, targets]) => [name, targets.default.replace(/^\.\/dist\//, './')]),
  );
  writeFileSync(join(buildDir, 'package.json'), JSON.stringify({ private: true, imports: drillImports }, null, 2));
}

export function compiledEntry(entry: string, buildDir = drillBuildDir): string {
  return join(buildDir, entry.replace(/\.ts$/, '.js'));
}

export interface Replica {
  readonly name: string;
  /** `http://127.0.0.1:<port>` as the service logged it. */
  readonly url: string;
  readonly process: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** The last lines the process wrote, for failure messages. */
  recentOutput(): string;
}

/** `DRILL_TRACE=/tmp/drill.log npm test -- test/deploy` keeps every replica's log lines there, for a roll that went wrong. */
const trace = process.env.DRILL_TRACE;

/**
 * Starts one replica of a compiled service as its own `node` process on an ephemeral port of
 * 127.0.0.1 and resolves once it logs that it listens (readiness is the balancer's business).
 */
export function startReplica(name: string, entry: string, env: Record<string, string>, startTimeoutMs = 30_000): Promise<Replica> {
  const child = spawn(process.execPath, [compiledEntry(entry)], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const remember = (line: string) => {
    if (trace) appendFileSync(trace, `${name} ${line}\n`);
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  const exited = new Promise<number | string>((done) => child.once('exit', (code, signal) => done(code ?? signal ?? 'unknown')));
  createInterface({ input: child.stderr! }).on('line', remember);
  const stdout = createInterface({ input: child.stdout! });
  return new Promise<Replica>((resolveReplica, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not listen within ${startTimeoutMs} ms:\n${lines.join('\n')}`));
    }, startTimeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening:\n${lines.join('\n')}`));
    });
    stdout.on('line', (line) => {
      remember(line);
      const url = listeningUrl(line);
      if (!url) return;
      clearTimeout(timer);
      resolveReplica({ name, url, process: child, exited, recentOutput: () => lines.join('\n') });
    });
  });
}

function listeningUrl(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    return entry.msg === 'listening' ? entry.url : undefined;
  } catch {
    return undefined;
  }
}
