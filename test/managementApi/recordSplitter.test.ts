import { Rng } from '../../scripts/simulator/rng';
import type { BlobBodyError } from '../../shared/managementApi/recordSplitter';
import { RecordSplitter, type BlobElement } from '../../shared/managementApi/recordSplitter';

/** The content-blob splitter on its own: boundaries, refusals, bounded memory, bad bodies. */

function split(
  text: string | Buffer,
  chunkSizes: (i: number) => number,
  limits = { maxRecordBytes: 1e6, maxDepth: 128 },
) {
  const body = typeof text === 'string' ? Buffer.from(text) : text;
  const s = new RecordSplitter(limits);
  const out: BlobElement[] = [];
  for (let i = 0, n = 0; i < body.length; i += n) {
    n = Math.max(1, chunkSizes(i));
    out.push(...s.push(body.subarray(i, i + n)));
  }
  s.end();
  return out;
}

function randomValue(rng: Rng, depth: number): unknown {
  switch (rng.int(0, depth > 3 ? 3 : 6)) {
    case 0:
      return rng.int(-1000, 1000) / 7;
    case 1:
      // Strings full of what the scanner must not take for structure: quotes, escapes, brackets, UTF-8.
      return `q"\\ ]}[{, é中🙂${'\\'.repeat(rng.int(0, 3))}`;
    case 2:
      return rng.pick([true, false, null]);
    case 3:
      return '';
    case 4:
    case 5: {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < rng.int(0, 4); i++) o[`k${i}"]}`] = randomValue(rng, depth + 1);
      return o;
    }
    default:
      return Array.from({ length: rng.int(0, 3) }, () => randomValue(rng, depth + 1));
  }
}

describe('RecordSplitter', () => {
  it('finds exactly the elements JSON.parse finds, whatever the chunking and formatting', () => {
    const rng = new Rng('splitter');
    for (let t = 0; t < 1500; t++) {
      const array = Array.from({ length: rng.int(0, 6) }, (_, i) =>
        rng.chance(0.7) ? { Id: `r${t}-${i}`, v: randomValue(rng, 0) } : randomValue(rng, 2),
      );
      const text = JSON.stringify(array, null, rng.chance(0.5) ? 2 : undefined);
      const elements = split(text, () => rng.int(1, 9));
      expect(elements.map((e) => e.index)).toEqual(array.map((_, i) => i));
      elements.forEach((e, i) => {
        const value = array[i];
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          expect(e).toMatchObject({ kind: 'record' });
          expect(JSON.parse((e as { json: string }).json)).toEqual(value);
        } else {
          expect(e).toMatchObject({ kind: 'rejected', reason: 'element is not a JSON object' });
          expect(JSON.parse((e as { raw: string }).raw)).toEqual(value);
        }
      });
    }
  });

  it('keeps each record’s exact text, so nothing is serialised again', () => {
    const text = '[ {"Id":"a",  "x" : [1, 2]}\n,{"Id":"b","s":"\\u00e9\\"}"} ]';
    expect(split(text, () => 3)).toEqual([
      { kind: 'record', index: 0, json: '{"Id":"a",  "x" : [1, 2]}' },
      { kind: 'record', index: 1, json: '{"Id":"b","s":"\\u00e9\\"}"}' },
    ]);
  });

  it('refuses a record nested deeper than allowed (one JSON.stringify cannot handle), and the rest flows', () => {
    const deep = `{"Id":"deep","x":${'['.repeat(6000)}1${']'.repeat(6000)}}`;
    const elements = split(`[{"Id":"a"},${deep},{"Id":"b"}]`, () => 4096);
    expect(elements.map((e) => e.kind)).toEqual(['record', 'rejected', 'record']);
    expect(elements[1]).toMatchObject({ reason: 'record nests 6001 levels deep, over the limit of 128' });
    expect((elements[1] as { raw: string }).raw).toBe(deep);
  });

  it('refuses invalid JSON inside one element without losing its neighbours', () => {
    const elements = split('[{"Id":"a"},{"Id":tru},{"Id":"c"}]', () => 5);
    expect(elements.map((e) => e.kind)).toEqual(['record', 'rejected', 'record']);
    expect((elements[1] as { reason: string }).reason).toMatch(/^record is not valid JSON/);
  });

  it('holds at most the record limit of an oversize record, counts all of it, and keeps its head', () => {
    const big = `{"Id":"big","s":"${'x'.repeat(5_000_000)}"}`;
    const s = new RecordSplitter({ maxRecordBytes: 100_000, maxDepth: 128, keepBytes: 1000 });
    const body = Buffer.from(`[{"Id":"a"},${big},{"Id":"b"}]`);
    const out: BlobElement[] = [];
    for (let i = 0; i < body.length; i += 65_536) out.push(...s.push(body.subarray(i, i + 65_536)));
    s.end();
    expect(out.map((e) => e.kind)).toEqual(['record', 'rejected', 'record']);
    const rejected = out[1] as Extract<BlobElement, { kind: 'rejected' }>;
    expect(rejected.bytes).toBe(Buffer.byteLength(big));
    expect(rejected.raw).toBe(big.slice(0, 1000));
    expect(rejected.reason).toMatch(/over the limit of 100000 for one record/);
  });

  it('refuses bodies that are not an array, and says when a body was cut off', () => {
    const shape = (text: string): BlobBodyError => {
      try {
        split(text, () => 2);
      } catch (e) {
        return e as BlobBodyError;
      }
      throw new Error(`accepted ${text}`);
    };
    expect(shape('{"value":[]}')).toMatchObject({ truncated: false });
    expect(shape('{"value":[]}').message).toMatch(
      /expected a JSON array of audit records, got a JSON object/,
    );
    expect(shape('<html>Server Error</html>')).toMatchObject({ truncated: false });
    expect(shape('[{"Id":"a"},]')).toMatchObject({ truncated: false });
    expect(shape('[{"Id":"a"} {"Id":"b"}]')).toMatchObject({ truncated: false });
    expect(shape('[{"Id":"a"}] x')).toMatchObject({ truncated: false });
    expect(shape('[{"Id":"a"},{"Id":"b", "Cre')).toMatchObject({ truncated: true });
    expect(shape('')).toMatchObject({ truncated: true });
    expect(split('  [ ]  ', () => 1)).toEqual([]);
  });
});
