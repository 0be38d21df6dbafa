import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
/** Compiled project code (jest's global setup builds it). */
export const dist = (...parts: string[]): string => join(ROOT, 'dist', ...parts);
