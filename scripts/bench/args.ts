export interface BenchOptions {
  /** Backlog size of the throughput run. */
  records: number;
  /** Run the throughput phases (off for `bench:memory`). */
  throughput: boolean;
  /** Backlog sizes of the memory runs; empty = none. */
  memorySizes: number[];
  /** Old-space caps (MB) to run the memory runs with besides V8's defaults. */
  memoryCaps: number[];
  seed: string;
  pageSize: number;
  users: number;
  /** host.json batchSize: messages the writer handles at once. */
  writerBatchSize: number;
  /** Records taken from the queue for the raw bulk-upsert ceiling. */
  ceilingRecords: number;
  /** Collector pacing; the simulator does not throttle, so the default lifts it (see docs/performance.md). */
  apiRequestsPerMinute: number;
  /** Tenant size the monthly cost is stated for. */
  costRecordsPerDay: number;
  retentionDays: number;
  outDir: string;
  /** Write V8 CPU profiles of the collector and writer processes here; undefined = none. */
  profileDir: string | undefined;
  /** Size of the one very large content blob of the completeness phase. */
  bulkyBytes: number;
}

export const USAGE = `usage: node dist/scripts/bench/run.js [options]     (npm run bench -- [options])
  Other modes, each with its own --help: --tenants N (many tenants, fanned out; docs/scale.md),
  --backfill (history from Graph audit log queries; docs/performance.md#backfill).

  --records N            backlog of the throughput run (default 200000)
  --memory               also run the memory runs (collector and writer peak RSS)
  --memory-only          only the memory runs (npm run bench:memory)
  --memory-sizes A,B     backlog sizes of the memory runs (default 100000,1000000)
  --memory-caps MB,...   also run them with --max-old-space-size=MB (default 96; "none" for V8 defaults only)
  --writer-batch-size N  messages the writer handles at once (default 8, host.json batchSize)
  --ceiling-records N    records sampled for the raw bulk-upsert ceiling (default 50000)
  --page-size N          listing page size of the simulated API (default 100)
  --users N              users in the simulated tenant (default 2000)
  --api-rpm N            collector request pacing per tenant (default 60000: not the limit here)
  --cost-records-per-day N   tenant size for the monthly cost (default 50000000)
  --retention-days N     days kept in Cosmos DB for the cost (default 180)
  --bulky-bytes N        size of the very large content blob the collector reads (default 150000000)
  --seed S               scenario seed (default bench)
  --out DIR              where the JSON result goes (default results)
  --cpu-prof DIR         write a V8 CPU profile of every collector and writer process into DIR
                         (summarise one with: node dist/scripts/bench/profileSummary.js FILE)
  --help                 this text`;

/** A bad command line: the CLI prints the message and a hint, without a stack trace, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE_HINT = 'run `npm run bench -- --help` for the options';

/** The command line: `--help` anywhere an option may stand, or the options. */
export function parseBenchCommand(
  argv: readonly string[],
): { help: true } | { help: false; options: BenchOptions } {
  let help = false;
  const options = parse(argv, () => (help = true));
  return help ? { help: true } : { help: false, options };
}

/** The options; throws UsageError on a bad command line (and on --help, which parseBenchCommand handles). */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  return parse(argv, () => {
    throw new UsageError(USAGE);
  });
}

function parse(argv: readonly string[], onHelp: () => void): BenchOptions {
  const o: BenchOptions = {
    records: 200_000,
    throughput: true,
    memorySizes: [],
    memoryCaps: [96],
    seed: 'bench',
    pageSize: 100,
    users: 2_000,
    writerBatchSize: 8,
    ceilingRecords: 50_000,
    apiRequestsPerMinute: 60_000,
    costRecordsPerDay: 50_000_000,
    retentionDays: 180,
    outDir: 'results',
    profileDir: undefined,
    bulkyBytes: 150_000_000,
  };
  let memory = false;
  let sizes = [100_000, 1_000_000];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const int = (min = 1): number => {
      const raw = value();
      const n = Number(raw.replace(/_/g, ''));
      if (!Number.isInteger(n) || n < min)
        throw new UsageError(`${a} must be an integer ≥ ${min}, got ${raw}`);
      return n;
    };
    const list = (): number[] => {
      const raw = value();
      if (raw === 'none') return [];
      const ns = raw.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
      if (ns.some((n) => !Number.isInteger(n) || n < 1))
        throw new UsageError(`${a} must be positive integers, got ${raw}`);
      return ns;
    };
    if (a === '--records') o.records = int();
    else if (a === '--memory') memory = true;
    else if (a === '--memory-only') {
      memory = true;
      o.throughput = false;
    } else if (a === '--memory-sizes') sizes = list();
    else if (a === '--memory-caps') o.memoryCaps = list();
    else if (a === '--writer-batch-size') o.writerBatchSize = int();
    else if (a === '--ceiling-records') o.ceilingRecords = int();
    else if (a === '--page-size') o.pageSize = int();
    else if (a === '--users') o.users = int();
    else if (a === '--api-rpm') o.apiRequestsPerMinute = int();
    else if (a === '--cost-records-per-day') o.costRecordsPerDay = int();
    else if (a === '--retention-days') o.retentionDays = int();
    else if (a === '--bulky-bytes') o.bulkyBytes = int();
    else if (a === '--seed') o.seed = value();
    else if (a === '--out') o.outDir = value();
    else if (a === '--cpu-prof') o.profileDir = value();
    else if (a === '--help' || a === '-h') onHelp();
    else throw new UsageError(`unknown argument ${String(a)}`);
  }
  if (o.writerBatchSize > 32)
    throw new UsageError('--writer-batch-size is at most 32 (the queue trigger maximum)');
  if (memory) o.memorySizes = sizes;
  return o;
}
