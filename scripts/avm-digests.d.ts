// Types of avm-digests.js, which stays plain JavaScript so `npm run avm:refresh` needs no build.

export interface AvmParameter {
  type: string;
  /** No default value and not nullable: every call must pass it. */
  required: boolean;
  allowed?: (string | number | boolean)[];
  /** Top-level property names of a typed object (only when that list is complete). */
  properties?: string[];
  /** Top-level property names of each item of a typed array (only when that list is complete). */
  itemProperties?: string[];
  /**
   * One level further down, for the properties of `properties` or `itemProperties` with a complete list of their
   * own: `key` when that property is an object, `key[]` when it is an array of objects.
   */
  nested?: Record<string, string[]>;
}

export interface AvmDigest {
  module: string;
  version: string;
  source: string;
  /** metadata._generator.version of main.json: the Bicep version that built the module. */
  bicepGenerator: string;
  templateHash: string;
  parameters: Record<string, AvmParameter>;
  outputs: Record<string, { type: string }>;
}

export function references(dir?: string): { module: string; version: string }[];
export function digestFileName(module: string, version: string): string;
export function digest(
  template: unknown,
  info: { module: string; version: string; source: string },
): AvmDigest;
export function fromGit(repo: string, module: string, version: string): { template: unknown; source: string };
export function fromRegistry(module: string, version: string): Promise<{ template: unknown; source: string }>;
export function refresh(options?: {
  repo?: string;
  infraDir?: string;
  digestDir?: string;
  log?: (line: string) => void;
}): Promise<{ written: string[]; removed: string[] }>;
export const DIGEST_DIR: string;
