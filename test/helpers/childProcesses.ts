import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(__dirname, '..', '..');
export const dist = (...parts: string[]): string => join(ROOT, 'dist', ...parts);

export interface JsonLineProcess {
  child: ChildProcess;
  /** Every JSON line printed so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the first line that matches. */
  waitFor(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code; rejects with stderr when it is not 0. */
  exited: Promise<number>;
  stop(): Promise<void>;
}

/** Starts compiled project code in a child process that reports in JSON lines on stdout. */
export function startJsonLineProcess(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): JsonLineProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{
    predicate: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.predicate(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (code === 0 || signal === 'SIGTERM') resolve(code ?? 0);
      else reject(new Error(`${script} exited with ${code ?? signal}: ${stderr}`));
    });
  });
  exited.catch(() => undefined);
  return {
    child,
    lines,
    waitFor(predicate, timeoutMs = 30_000) {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for output of ${script}; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        exited.catch((e: Error) => {
          clearTimeout(timer);
          reject(e);
        });
      });
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
