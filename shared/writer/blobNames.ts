import { sha256Hex } from './recordIdentity';

/**
 * One segment of a blob name built from message or record values. Plain values are used as they are
 * (readable in the portal); anything with other characters, or long, becomes `h-<hash>`, so a crafted
 * value can neither add path segments nor exceed the 1,024-character name limit — and the same value
 * always gives the same name, so a retry overwrites instead of adding a copy.
 */
export function blobNameSegment(value: string, maxChars = 200): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) && value.length <= maxChars && !value.endsWith('.')
    ? value
    : `h-${sha256Hex(value).slice(0, 32)}`;
}
