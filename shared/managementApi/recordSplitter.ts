/**
 * Splits a content blob body — a JSON array of audit records — into the raw JSON text of each element,
 * chunk by chunk, so a blob of any size is read in memory bounded by its largest record.
 *
 * Why not a streaming JSON library: those assemble parsed values, and we need each record's exact text
 * (it goes on to the queue as is, with no second serialisation, and a record refused here is kept
 * byte for byte). Only strings, escapes and brackets matter for finding element boundaries; each
 * element is then checked with the native JSON.parse.
 */

/** What the splitter found at one position of the array. */
export type BlobElement =
  | { kind: 'record'; index: number; json: string }
  | { kind: 'rejected'; index: number; reason: string; raw: string; bytes: number };

export interface SplitterOptions {
  /** An element larger than this is refused (its first `keepBytes` are kept with the reason). */
  maxRecordBytes: number;
  /** Deepest object/array nesting accepted inside one record (the record itself is depth 1). */
  maxDepth: number;
  /** How much of a refused oversize element is kept. Default 64 KiB. */
  keepBytes?: number;
}

/** The body is not a JSON array of records, or it ended before the array did. */
export class BlobBodyError extends Error {
  constructor(
    message: string,
    /** True when the body was cut off: a retry may get it whole. */
    readonly truncated: boolean,
  ) {
    super(message);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

type State = 'before-array' | 'before-element' | 'in-element' | 'after-element' | 'done';
/** Object or array; a string; a number or literal (which ends at the delimiter after it). */
type ElementKind = 'container' | 'string' | 'bare';

export class RecordSplitter {
  private state: State = 'before-array';
  private kind: ElementKind = 'container';
  private index = 0;
  private depth = 0;
  private maxDepthSeen = 0;
  private inString = false;
  private escaped = false;
  private parts: Buffer[] = [];
  private bytes = 0;
  /** Body bytes consumed before the current chunk, for error messages. */
  private offset = 0;
  private readonly keepBytes: number;

  constructor(private readonly options: SplitterOptions) {
    this.keepBytes = options.keepBytes ?? 64 * 1024;
  }

  /** Elements completed by this chunk, in order. */
  push(chunk: Buffer): BlobElement[] {
    const out: BlobElement[] = [];
    let start = this.state === 'in-element' ? 0 : -1;
    /** Position of the next backslash at or after the scan (-2: not searched yet, -1: none left). */
    let backslash = -2;
    for (let i = 0; i < chunk.length; i++) {
      if (this.state === 'in-element' && this.inString && !this.escaped) {
        // Most of a record is string content: jump to the next quote or backslash natively. The next
        // backslash is remembered, since most strings have none and searching for it again is quadratic.
        if (backslash !== -1 && backslash < i) backslash = chunk.indexOf(BACKSLASH, i);
        const quote = chunk.indexOf(QUOTE, i);
        const next = quote === -1 ? backslash : backslash === -1 ? quote : Math.min(quote, backslash);
        if (next === -1) break;
        i = next;
      }
      const b = chunk[i] as number;
      if (this.state === 'in-element') {
        const end = this.step(b);
        if (end === 'none') continue;
        // A number or literal ends before its delimiter, which the next state reads again.
        const stop = end === 'before' ? i : i + 1;
        this.take(chunk, start, stop);
        out.push(this.finishElement());
        start = -1;
        if (end === 'before') i--;
        continue;
      }
      if (isSpace(b)) continue;
      switch (this.state) {
        case 'before-array':
          if (b !== OPEN_BRACKET) throw this.shapeError(b, i);
          this.state = 'before-element';
          break;
        case 'after-element':
          if (b === COMMA) this.state = 'before-element';
          else if (b === CLOSE_BRACKET) this.state = 'done';
          else throw this.syntaxError(`expected "," or "]" after element ${this.index - 1}`, i);
          break;
        case 'before-element':
          if (b === CLOSE_BRACKET && this.index === 0) {
            this.state = 'done';
            break;
          }
          if (b === CLOSE_BRACKET || b === CLOSE_BRACE || b === COMMA) {
            throw this.syntaxError(`expected an element, got ${JSON.stringify(String.fromCharCode(b))}`, i);
          }
          this.startElement(b);
          start = i;
          break;
        case 'done':
          throw this.syntaxError('unexpected data after the array', i);
      }
    }
    if (this.state === 'in-element' && start >= 0) this.take(chunk, start, chunk.length);
    this.offset += chunk.length;
    return out;
  }

  /** Call at the end of the body: throws if the array is not complete. */
  end(): void {
    if (this.state === 'before-array') throw new BlobBodyError('the body is empty', true);
    if (this.state !== 'done') {
      throw new BlobBodyError(`the body ends inside the array after ${this.offset} bytes`, true);
    }
  }

  /** Elements seen so far, refused ones included. */
  get elements(): number {
    return this.index;
  }

  private shapeError(b: number, i: number): BlobBodyError {
    const what =
      b === OPEN_BRACE ? 'a JSON object' : `a body starting with ${JSON.stringify(String.fromCharCode(b))}`;
    return new BlobBodyError(
      `expected a JSON array of audit records, got ${what} (byte ${this.offset + i})`,
      false,
    );
  }

  private syntaxError(what: string, i: number): BlobBodyError {
    return new BlobBodyError(`${what} at byte ${this.offset + i}`, false);
  }

  private startElement(b: number): void {
    this.state = 'in-element';
    this.parts = [];
    this.bytes = 0;
    this.escaped = false;
    if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      this.kind = 'container';
      this.depth = 1;
      this.inString = false;
    } else if (b === QUOTE) {
      this.kind = 'string';
      this.depth = 0;
      this.inString = true;
    } else {
      this.kind = 'bare';
      this.depth = 0;
      this.inString = false;
    }
    this.maxDepthSeen = this.depth;
  }

  /** Scans one byte of the current element (its first byte is already read). */
  private step(b: number): 'none' | 'after' | 'before' {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (b === BACKSLASH) this.escaped = true;
      else if (b === QUOTE) {
        this.inString = false;
        if (this.kind === 'string') return 'after';
      }
      return 'none';
    }
    if (this.kind === 'bare') {
      return b === COMMA || b === CLOSE_BRACKET || isSpace(b) ? 'before' : 'none';
    }
    if (b === QUOTE) this.inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      this.depth++;
      if (this.depth > this.maxDepthSeen) this.maxDepthSeen = this.depth;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      this.depth--;
      if (this.depth === 0) return 'after';
    }
    return 'none';
  }

  private take(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    const n = to - from;
    // Past the record limit only the head is kept; the rest is counted, never held.
    const room = Math.max(this.options.maxRecordBytes + 1, this.keepBytes) - this.bytes;
    if (room > 0) this.parts.push(chunk.subarray(from, from + Math.min(n, room)));
    this.bytes += n;
  }

  private finishElement(): BlobElement {
    const index = this.index++;
    this.state = 'after-element';
    const body = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    this.parts = [];
    const bytes = this.bytes;
    const reject = (reason: string, raw = body): BlobElement => ({
      kind: 'rejected',
      index,
      bytes,
      reason,
      raw: raw.toString('utf8'),
    });
    if (bytes > this.options.maxRecordBytes) {
      return reject(
        `record is ${bytes} bytes, over the limit of ${this.options.maxRecordBytes} for one record (first ${this.keepBytes} bytes kept)`,
        body.subarray(0, this.keepBytes),
      );
    }
    if (this.kind !== 'container' || body[0] !== OPEN_BRACE) return reject('element is not a JSON object');
    if (this.maxDepthSeen > this.options.maxDepth) {
      return reject(
        `record nests ${this.maxDepthSeen} levels deep, over the limit of ${this.options.maxDepth}`,
      );
    }
    const json = body.toString('utf8');
    try {
      JSON.parse(json);
    } catch (e) {
      return reject(`record is not valid JSON: ${(e as Error).message}`);
    }
    return { kind: 'record', index, json };
  }
}
