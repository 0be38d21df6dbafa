import { format } from 'node:util';
import { contextLogger, type ContextLike, type Logger } from '../../shared/logging';
import type { Row } from './kql';

/** Application Insights cuts a trace message at this many characters. */
export const TRACE_MESSAGE_LIMIT = 32_768;

export interface Trace {
  timestamp: Date;
  message: string;
  /** Application Insights severity: 1 information, 2 warning, 3 error. */
  severityLevel: number;
}

/**
 * Stands in for the Functions InvocationContext: keeps each line as the worker sends it to the `traces`
 * table (the arguments formatted like console.log), stamped with the test's clock.
 */
export class TraceRecorder implements ContextLike {
  readonly traces: Trace[] = [];

  constructor(private readonly clock: () => Date) {}

  log(...args: unknown[]): void {
    this.add(1, args);
  }

  warn(...args: unknown[]): void {
    this.add(2, args);
  }

  error(...args: unknown[]): void {
    this.add(3, args);
  }

  /** The logger the functions build from their context: what the code under test logs through. */
  logger(): Logger {
    return contextLogger(this);
  }

  /** The lines so far, and a fresh start for the next run. */
  take(): Trace[] {
    return this.traces.splice(0);
  }

  private add(severityLevel: number, args: unknown[]): void {
    this.traces.push({ timestamp: this.clock(), message: format(...args), severityLevel });
  }
}

/** Rows of the `traces` table as a query sees them. */
export function traceRows(traces: Trace[], operationName = 'collector'): Row[] {
  return traces.map((t) => ({
    timestamp: t.timestamp,
    message: t.message,
    severityLevel: t.severityLevel,
    customDimensions: {},
    operation_Name: operationName,
  }));
}
