/**
 * Runs the real backfill engine in a process of its own, as `auditfeed backfill` does (BackfillRuntime from
 * the settings, the queries in flight and daily budget from them), on the simulator's clock: its waits move
 * that clock instead of waiting. Prints progress lines and a final JSON line with the summary, wall seconds,
 * CPU and the process's peak RSS. Used by `npm run bench -- --backfill`.
 *
 *   AUDITFEED_* settings in the environment (AUDITFEED_GRAPH_ENDPOINT the simulator);
 *   BACKFILL_TENANT, BACKFILL_FROM, BACKFILL_TO   what to backfill (all configured content types).
 */
import { readFileSync } from 'node:fs';
import { runBackfill } from '../../shared/backfill/backfillRun';
import { BackfillRuntime } from '../../shared/backfill/backfillRuntime';
import { countProgress } from '../../shared/backfill/progressStore';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/logging';
import { simClock } from './backfillSim';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const ca = readFileSync(required('AUDITFEED_TLS_CA_FILE'), 'utf8');
  const clock = await simClock(required('AUDITFEED_GRAPH_ENDPOINT'), ca);
  const runtime = new BackfillRuntime(config, { sleep: clock.sleep, now: clock.now });
  // Container and queue checks happen once per process; keep them out of the timed part.
  await runtime.ensureResources();

  const startRssBytes = process.memoryUsage().rss;
  const startedAt = Date.now();
  const cpuStart = process.cpuUsage();
  let lastReport = startedAt;
  const summary = await runBackfill({
    ...runtime.engineParts(),
    request: {
      tenantId: required('BACKFILL_TENANT'),
      from: required('BACKFILL_FROM'),
      to: required('BACKFILL_TO'),
      contentTypes: config.contentTypes,
      createdBy: 'bench',
    },
    logger: silentLogger,
    now: () => new Date(clock.now()),
    sleep: clock.sleep,
    maxQueriesInFlight: config.backfill.queriesInFlight,
    maxQueriesPerDay: config.backfill.queriesPerDay,
    onProgress: (p) => {
      if (Date.now() - lastReport < 5_000) return;
      lastReport = Date.now();
      const c = countProgress(p);
      process.stdout.write(
        `${JSON.stringify({ progress: true, records: c.records, windowsDone: c.done, windows: c.windows, rss: process.memoryUsage().rss })}\n`,
      );
    },
  });
  const finishedAt = Date.now();
  const cpu = process.cpuUsage(cpuStart);
  process.stdout.write(
    `${JSON.stringify({
      done: true,
      summary,
      seconds: (finishedAt - startedAt) / 1000,
      startedAt,
      finishedAt,
      simulatedWaitMs: Math.round(clock.advancedMs()),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      // resourceUsage().maxRSS is in kilobytes.
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      startRssBytes,
    })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
