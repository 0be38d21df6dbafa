/**
 * Runs the real collector in a process of its own, pass after pass like a long-lived Functions worker,
 * until every content type is caught up; prints one JSON line per pass and a final line with the
 * process's peak RSS. Used by the backlog memory test and by `npm run bench`.
 *
 *   AUDITFEED_* settings in the environment; optional COLLECTOR_MAX_PASSES (default 1000).
 */
import { loadConfig } from '../../shared/config';
import { collect } from '../../shared/handlers/collect';
import { silentLogger } from '../../shared/logging';
import { CollectorRuntime } from '../../shared/runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  // Before any collection: what the process costs with its modules loaded, so tests can bound the growth.
  const startRssBytes = process.memoryUsage().rss;
  const runtime = new CollectorRuntime(config, silentLogger);
  const maxPasses = Number(process.env.COLLECTOR_MAX_PASSES ?? 1000);
  const started = Date.now();
  const cpuStart = process.cpuUsage();
  let records = 0;
  let messages = 0;
  let passes = 0;
  // Summed over passes, for the bench's messages-per-record, compression and request figures.
  const totals = { bytes: 0, blobs: 0, blobsSkipped: 0, pages: 0, windows: 0, claimChecks: 0, retries: 0 };
  const byContentType: Record<string, { records: number; messages: number; bytes: number }> = {};
  try {
    for (; passes < maxPasses;) {
      passes++;
      const summary = await collect(runtime, silentLogger);
      records += summary.totals.records;
      messages += summary.totals.messages;
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += summary.totals[k];
      for (const c of summary.contentTypes) {
        const t = (byContentType[c.contentType] ??= { records: 0, messages: 0, bytes: 0 });
        t.records += c.records;
        t.messages += c.messages;
        t.bytes += c.bytes;
      }
      const outcomes = summary.contentTypes.map((c) => c.outcome);
      process.stdout.write(
        `${JSON.stringify({ pass: passes, records: summary.totals.records, outcomes, rss: process.memoryUsage().rss })}\n`,
      );
      if (outcomes.includes('failed')) {
        throw new Error(
          summary.contentTypes.find((c) => c.outcome === 'failed')?.error ?? 'a content type failed',
        );
      }
      if (outcomes.every((o) => o === 'complete')) break;
    }
  } finally {
    runtime.close();
  }
  const finishedAt = Date.now();
  const seconds = (finishedAt - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  process.stdout.write(
    `${JSON.stringify({
      done: true,
      passes,
      records,
      messages,
      ...totals,
      byContentType,
      seconds,
      startedAt: started,
      finishedAt,
      recordsPerSecond: Math.round(records / seconds),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      // resourceUsage().maxRSS is in kilobytes.
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      startRssBytes,
    })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
