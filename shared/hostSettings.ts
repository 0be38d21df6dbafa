import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The trigger settings of host.json, read from the file itself so the local runner drives the handlers
 * with exactly what Azure uses, and so configuration can check settings that must agree with it (the
 * collector's deadline, the writer's last attempt). Defaults are the Functions host's own
 * (reference/management-api.md C1).
 */
export interface QueueTriggerSettings {
  /** Messages received and processed at once. */
  batchSize: number;
  /** The host fetches the next batch when this few are still in flight. */
  newBatchThreshold: number;
  maxDequeueCount: number;
  /** Delay before a failed message is visible again. */
  visibilityTimeoutSeconds: number;
  /** Longest wait between polls of an empty queue. */
  maxPollingIntervalMs: number;
  messageEncoding: 'none' | 'base64';
}

export interface HostSettings {
  file: string;
  functionTimeoutSeconds: number;
  queues: QueueTriggerSettings;
}

/** The repository root: the nearest folder up from this module with the project's package.json. */
export function projectRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (
      existsSync(pkg) &&
      (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'auditfeed'
    ) {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot find the auditfeed package.json above ${from}`);
  }
}

/** `hh:mm:ss` or `d.hh:mm:ss` (a .NET TimeSpan as host.json spells it) in seconds. */
export function parseTimeSpan(text: string, what: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$/.exec(text.trim());
  if (!m) throw new Error(`${what}: "${text}" is not a TimeSpan like 00:02:00`);
  const [days, hours, minutes, seconds] = [m[1] ?? '0', m[2], m[3], m[4]].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
}

interface HostJson {
  functionTimeout?: string;
  extensions?: { queues?: Record<string, unknown> };
}

export function readHostSettings(file = path.join(projectRoot(), 'host.json')): HostSettings {
  const json = JSON.parse(readFileSync(file, 'utf8')) as HostJson;
  const q = json.extensions?.queues ?? {};
  const where = (key: string): string => `${file}: extensions.queues.${key}`;
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = q[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new Error(`${where(key)} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const span = (key: string, fallback: string): number => {
    const v = q[key];
    return parseTimeSpan(typeof v === 'string' ? v : fallback, where(key));
  };
  const batchSize = int('batchSize', 16, 1, 32);
  const encoding = typeof q.messageEncoding === 'string' ? q.messageEncoding.toLowerCase() : 'base64';
  if (encoding !== 'none' && encoding !== 'base64') {
    throw new Error(`${where('messageEncoding')} must be none or base64, got ${String(q.messageEncoding)}`);
  }
  return {
    file,
    functionTimeoutSeconds: parseTimeSpan(json.functionTimeout ?? '00:05:00', `${file}: functionTimeout`),
    queues: {
      batchSize,
      // The host's default is batchSize/2 per processor; one local "instance" counts as one processor.
      newBatchThreshold: int('newBatchThreshold', Math.floor(batchSize / 2), 0, 1000),
      maxDequeueCount: int('maxDequeueCount', 5, 1, 1000),
      visibilityTimeoutSeconds: span('visibilityTimeout', '00:00:00'),
      maxPollingIntervalMs: Math.max(100, span('maxPollingInterval', '00:01:00') * 1000),
      messageEncoding: encoding,
    },
  };
}

/** host.json of the deployed app or the checkout; undefined when there is none (a bundled copy). */
export function readHostSettingsIfPresent(): HostSettings | undefined {
  let file: string;
  try {
    file = path.join(projectRoot(), 'host.json');
  } catch {
    return undefined;
  }
  return existsSync(file) ? readHostSettings(file) : undefined;
}
