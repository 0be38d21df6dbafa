/**
 * A blob's body is assembled as text from per-record JSON texts: hostile records cannot go through
 * JSON.stringify, and a bulky blob must never exist whole.
 */

/** The whole body, for ordinary blobs (a single join: as fast as stringifying the array). */
export function bodyText(records: Iterable<string>): string {
  return `[${[...records].join(',')}]`;
}

/** The body in pieces of about `chunkChars`, generated as the consumer asks for them. */
export function* bodyChunks(records: Iterable<string>, chunkChars = 64 * 1024): Generator<string> {
  let buf = '[';
  let first = true;
  for (const r of records) {
    buf += first ? r : `,${r}`;
    first = false;
    if (buf.length >= chunkChars) {
      yield buf;
      buf = '';
    }
  }
  yield `${buf}]`;
}
