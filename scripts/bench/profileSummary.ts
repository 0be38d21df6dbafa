/**
 * Prints where a V8 CPU profile (`npm run bench -- --cpu-prof DIR`) spent its time: the functions with
 * the most self time, and the same summed per package or project folder, so the cause of a missed
 * target can be named.
 *
 *   node dist/scripts/bench/profileSummary.js FILE.cpuprofile [--top N]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileLine {
  name: string;
  ms: number;
  share: number;
}

/** Where a script URL belongs: its npm package, the project folder, or Node's own code. */
export function ownerOf(url: string): string {
  if (url === '') return '(native, GC, idle)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node';
  const own = /\/dist\/([^/]+\/[^/]+)\//.exec(url);
  return own ? own[1]! : url;
}

/** Self time per function and per owner, from the samples (each sample's time delta goes to its node). */
export function summarise(profile: CpuProfile): {
  functions: ProfileLine[];
  owners: ProfileLine[];
  totalMs: number;
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0)));
  const functions = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    total += us;
    const where =
      frame.url === ''
        ? ''
        : ` ${frame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${frame.lineNumber + 1}`;
    const name = `${frame.functionName || '(anonymous)'}${where}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const owner = ownerOf(frame.url);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
  }
  const lines = (m: Map<string, number>): ProfileLine[] =>
    [...m.entries()]
      .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return { functions: lines(functions), owners: lines(owners), totalMs: total / 1000 };
}

function main(argv: string[]): void {
  const file = argv.find((a) => !a.startsWith('--'));
  const topIndex = argv.indexOf('--top');
  const top = topIndex >= 0 ? Number(argv[topIndex + 1]) : 25;
  if (!file) throw new Error('usage: node dist/scripts/bench/profileSummary.js FILE.cpuprofile [--top N]');
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const print = (title: string, lines: ProfileLine[]): void => {
    process.stdout.write(`${title}\n`);
    for (const l of lines.slice(0, top))
      process.stdout.write(
        `  ${l.ms.toFixed(0).padStart(7)} ms ${(l.share * 100).toFixed(1).padStart(5)}%  ${l.name}\n`,
      );
  };
  process.stdout.write(`${file}: ${s.totalMs.toFixed(0)} ms sampled\n`);
  print('By owner (self time)', s.owners);
  print('By function (self time)', s.functions);
}

if (require.main === module) main(process.argv.slice(2));
