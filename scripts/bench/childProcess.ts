import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A compiled script run in a child process of its own that reports in JSON lines on stdout — the
 * collector, the writer and the simulator CLI — so each one's memory and CPU are its own. The bench and
 * the tests that run those processes use it.
 */
export interface JsonLineChild {
  readonly pid: number;
  /** The process itself, e.g. to kill it with a signal of a test's choosing. */
  readonly child: ChildProcess;
  /** Every JSON line printed so far. */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the first line that matches (already printed or yet to come). */
  waitFor(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Writes one line to the child's stdin. */
  send(line: string): void;
  /** Resolves when the child exits with 0; rejects with its stderr otherwise. */
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

export interface ChildOptions {
  env?: Record<string, string>;
  /** Node options for the child only, e.g. `--max-old-space-size=96`. */
  nodeArgs?: string[];
}

const running = new Set<ChildProcess>();
let hooked = false;

/** Children must not outlive the bench, whatever ends it; only the ones started here are signalled. */
function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGTERM');
  });
}

export function startJsonLineChild(
  script: string,
  args: string[],
  options: ChildOptions = {},
): JsonLineChild {
  installExitHook();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    // NODE_OPTIONS of the bench itself must not leak into what is measured.
    env: { ...process.env, NODE_OPTIONS: '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`cannot start ${script}`);
  running.add(child);
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    predicate: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  child.stdin.on('error', () => undefined);
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof line !== 'object' || line === null) return;
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.predicate(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      if (code === 0 || signal === 'SIGTERM') resolve();
      else reject(new Error(`${script} exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
  exited.catch(() => undefined);
  return {
    pid: child.pid,
    child,
    lines,
    waitFor(predicate, timeoutMs = 3_600_000) {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for output of ${script}; stderr: ${stderr.trim()}`)),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        exited.then(
          () => {
            clearTimeout(timer);
            reject(new Error(`${script} exited without the expected output; stderr: ${stderr.trim()}`));
          },
          (e: unknown) => {
            clearTimeout(timer);
            reject(e instanceof Error ? e : new Error(String(e)));
          },
        );
      });
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited.catch(() => undefined);
      }
    },
  };
}
