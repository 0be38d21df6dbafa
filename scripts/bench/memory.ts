import { runCollector, runWriter, type PhaseOptions } from './phases';
import type { MemoryRun } from './report';
import { benchScenario, writeScenario } from './scenario';
import { startBenchSimulator } from './simulatorClient';
import { startStores } from './stack';

export interface MemoryOptions extends Omit<PhaseOptions, 'oldSpaceMb'> {
  sizes: number[];
  /** Old-space caps to run besides V8's defaults. */
  caps: number[];
  seed: string;
  pageSize: number;
  users: number;
  workDir: string;
}

/**
 * Peak RSS of the collector and of the writer, each in a process of its own, at each backlog size: the
 * collector alone fills the queue, then the writer alone drains it (DESIGN invariant 4: memory must not
 * grow with the backlog). Repeated with each old-space cap, on fresh storage.
 */
export async function memoryRuns(o: MemoryOptions): Promise<MemoryRun[]> {
  const runs: MemoryRun[] = [];
  for (const records of o.sizes) {
    const spec = benchScenario({
      records,
      seed: `${o.seed}-memory-${records}`,
      pageSize: o.pageSize,
      users: o.users,
    });
    const sim = await startBenchSimulator(writeScenario(o.workDir, `memory-${records}`, spec));
    try {
      for (const oldSpaceMb of [undefined, ...o.caps]) {
        const label = oldSpaceMb === undefined ? 'V8 defaults' : `--max-old-space-size=${oldSpaceMb}`;
        o.log(`memory: ${records} records, ${label}`);
        const stores = await startStores(sim);
        try {
          const phase = { ...o, oldSpaceMb };
          const c = await runCollector(stores, phase);
          runs.push({
            records: c.records,
            process: 'collector',
            oldSpaceMb,
            maxRssBytes: c.maxRssBytes,
            recordsPerSecond: c.records / c.seconds,
          });
          const w = await runWriter(stores, phase);
          runs.push({
            records: w.records,
            process: 'writer',
            oldSpaceMb,
            maxRssBytes: w.maxRssBytes,
            recordsPerSecond: w.records / w.seconds,
          });
        } finally {
          await stores.stop();
        }
      }
    } finally {
      await sim.stop();
    }
  }
  return runs;
}
