/** Structured logger; Functions' InvocationContext (log/warn/error) fits it, as does the console. */
export interface Logger {
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Something with Functions' InvocationContext logging methods. */
export interface ContextLike {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Logs through a Functions invocation context; properties go as JSON so Application Insights keeps them. */
export function contextLogger(context: ContextLike): Logger {
  const format = (message: string, properties?: Record<string, unknown>): string =>
    properties ? `${message} ${JSON.stringify(properties)}` : message;
  return {
    info: (m, p) => context.log(format(m, p)),
    warn: (m, p) => context.warn(format(m, p)),
    error: (m, p) => context.error(format(m, p)),
  };
}

/** Process-wide logger (outside any one invocation): structured JSON lines on the console. */
export const consoleLogger: Logger = {
  info: (message, properties) => console.log(JSON.stringify({ level: 'info', message, ...properties })),
  warn: (message, properties) => console.warn(JSON.stringify({ level: 'warn', message, ...properties })),
  error: (message, properties) => console.error(JSON.stringify({ level: 'error', message, ...properties })),
};
