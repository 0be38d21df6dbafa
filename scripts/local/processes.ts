import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** How much of a child's stdout/stderr is kept for error messages. */
const TAIL_CHARS = 8_000;
/** SIGTERM → SIGKILL grace used by stop(). */
export const STOP_GRACE_MS = 5_000;

export interface SpawnOptions<T> {
  /** Human name used in error messages ("Azurite", "Cosmos stand-in"). */
  name: string;
  /** Arguments after `process.execPath`. */
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Looks at everything printed on stdout so far; returns a value once the server is ready. */
  ready: (stdout: string) => T | undefined;
}

/**
 * One running server child. It leads its own process group (`detached`), so signals reach anything it
 * spawns, and a Ctrl-C in a terminal reaches only the parent, which then stops it.
 */
export class ServerProcess {
  readonly pid: number;
  readonly exited: Promise<void>;
  private stdoutTail = '';
  private stderrTail = '';
  private done = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.done = true;
        resolve();
      });
    });
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => (this.stdoutTail = tail(this.stdoutTail + chunk)));
    child.stderr?.on('data', (chunk: string) => (this.stderrTail = tail(this.stderrTail + chunk)));
    // The child exits by itself once its stdin closes; ignore EPIPE if it is already gone.
    child.stdin?.on('error', () => undefined);
    // A running server must not keep the parent's event loop alive: the 'exit' hook stops it instead.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) {
      (stream as unknown as { unref?: () => void } | null)?.unref?.();
    }
  }

  /** Spawns `process.execPath args` and resolves once `ready` recognises its output. */
  static async start<T>(options: SpawnOptions<T>): Promise<{ process: ServerProcess; ready: T }> {
    const child = spawn(process.execPath, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      windowsHide: true,
    });
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawnError) {
      const where = options.cwd === undefined ? '' : ` in ${options.cwd}`;
      throw new Error(`${options.name}: cannot start ${process.execPath}${where}: ${spawnError.message}`);
    }
    const server = new ServerProcess(options.name, child);
    live.add(server);
    void server.exited.then(() => live.delete(server));
    installExitHooks();
    try {
      return { process: server, ready: await server.waitUntilReady(options) };
    } catch (err) {
      await server.kill();
      throw err;
    }
  }

  get running(): boolean {
    return !this.done;
  }

  /** Recent output, for error messages. */
  diagnostics(): string {
    const parts: string[] = [];
    if (this.stderrTail.trim()) parts.push(`stderr:\n${this.stderrTail.trim()}`);
    if (this.stdoutTail.trim()) parts.push(`stdout:\n${this.stdoutTail.trim()}`);
    return parts.join('\n') || '(no output)';
  }

  /** Sends `signal` to the whole process group; a no-op once the child has exited. */
  signal(signal: NodeJS.Signals, group = true): void {
    if (this.done) return;
    try {
      process.kill(group ? -this.pid : this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** Waits up to `ms` for the child to exit; true if it did. Its timer keeps the parent alive meanwhile. */
  async waitForExit(ms: number): Promise<boolean> {
    if (this.done) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const result = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.signal('SIGTERM');
    if (await this.waitForExit(graceMs)) return;
    await this.kill();
  }

  /** SIGKILL, i.e. a crash. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    // Not `await this.exited`: the child is unref'd, so only waitForExit's timer keeps a script alive.
    if (!(await this.waitForExit(STOP_GRACE_MS))) {
      throw new Error(`${this.name} (pid ${this.pid}) did not exit after SIGKILL`);
    }
  }

  private waitUntilReady<T>(options: SpawnOptions<T>): Promise<T> {
    const { child } = this;
    return new Promise<T>((resolve, reject) => {
      let stdout = '';
      const cleanup = (): void => {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
      };
      const onData = (chunk: string): void => {
        stdout += chunk;
        const value = options.ready(stdout);
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        cleanup();
        // Let the last stderr chunk arrive before reporting it.
        setImmediate(() =>
          reject(
            new Error(
              `${options.name} exited before it was ready (${signal ?? `exit code ${String(code)}`}); ` +
                `command: ${process.execPath} ${options.args.join(' ')}\n${this.diagnostics()}`,
            ),
          ),
        );
      };
      // This timer also keeps the parent alive while it waits (the child itself is unref'd).
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `${options.name} did not become ready within ${options.timeoutMs} ms; ` +
              `command: ${process.execPath} ${options.args.join(' ')}\n${this.diagnostics()}`,
          ),
        );
      }, options.timeoutMs);
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    });
  }
}

function tail(text: string): string {
  return text.length > TAIL_CHARS ? text.slice(-TAIL_CHARS) : text;
}

/** Everything that stopAll() must stop: the service handles, which own their current process. */
export interface StoppableService {
  stop(): Promise<void>;
  /** Synchronous best effort for the process 'exit' hook (no awaiting possible there). */
  stopNowSync(): void;
}

const services = new Set<StoppableService>();
const live = new Set<ServerProcess>();

export function registerService(service: StoppableService): void {
  services.add(service);
}

export function unregisterService(service: StoppableService): void {
  services.delete(service);
}

/** Stops every service and child started by this process. */
export async function stopAll(): Promise<void> {
  await Promise.all([...services].map((service) => service.stop()));
  await Promise.all([...live].map((child) => child.stop()));
}

let hooksInstalled = false;
let signalsLeftToCaller = false;

/**
 * The calling program handles SIGINT/SIGTERM itself and stops the services when its work has drained
 * (the local runner): the signal hooks below then leave the servers alone. The 'exit' hook stays, so a
 * process that exits without stopping them still takes them along.
 */
export function leaveSignalsToCaller(): void {
  signalsLeftToCaller = true;
}

function stopEverythingSync(): void {
  for (const service of services) service.stopNowSync();
  for (const child of live) child.signal('SIGTERM');
}

/**
 * A test or runner process that dies must not leave servers behind. 'exit' covers normal ends and
 * uncaught exceptions; SIGINT/SIGTERM would otherwise kill us without 'exit'. If the parent is SIGKILLed
 * nothing runs here: the children notice their stdin closing and exit by themselves.
 */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', stopEverythingSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      if (signalsLeftToCaller) return;
      stopEverythingSync();
      // If nobody else handles the signal, die of it as we would have without this hook.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/**
 * Finds a plain-JS helper shipped next to this module's sources: `scripts/local/<name>` both when running
 * from the TypeScript sources (jest) and from the compiled `dist/scripts/local/` (tsc does not copy .cjs).
 */
export function localScript(name: string): string {
  const candidates = [
    path.join(__dirname, name),
    path.resolve(__dirname, '..', '..', '..', 'scripts', 'local', name),
  ];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`cannot find scripts/local/${name} (looked in ${candidates.join(', ')})`);
  return found;
}
