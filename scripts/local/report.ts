import { formatSeconds } from '../../shared/status';
import { writeFileSync } from 'node:fs';
import type { ContentType } from '../../shared/contentTypes';
import type { ScenarioSpec } from '../simulator';
import { duration, int, rate, table } from './format';
import type { LocalStack } from './localStack';
import type { RunStats } from './stats';
import type { StoreCheck } from './verify';

/**
 * The end of a local run: the summary printed for a person, and the same facts as JSON in
 * `<stateDir>/last-run.json` for scripts and tests (written at start with status "running" too).
 *
 * Statuses: "running" → ("following" with --follow once caught up) → "stopping" after Ctrl-C/SIGTERM →
 * one final status: "caught-up", "stopped" (caught up and followed, then stopped by a signal),
 * "interrupted" (stopped by a signal before catching up), "collector-failed" or "failed".
 */

export type RunStatus =
  | 'running'
  | 'following'
  | 'stopping'
  | 'caught-up'
  | 'stopped'
  | 'interrupted'
  | 'collector-failed'
  | 'failed';

/** How a run stopped on a signal: what was in flight, and whether it finished within the drain timeout. */
export interface StopInfo {
  signal: string;
  /** ISO time the signal arrived. */
  at: string;
  inFlight: { writerBatches: number; collectorRun: boolean };
  /** Everything in flight reached a safe point before the services were stopped. */
  drained: boolean;
  /** Left unfinished when the drain timeout passed (their messages are delivered again next run). */
  abandoned: { writerBatches: number; collectorRun: boolean };
  drainSeconds: number;
}

export interface RunReport {
  status: RunStatus;
  /** True when the run caught up and every check passed. */
  ok: boolean;
  pid: number;
  servicePids: number[];
  startedAt: string;
  finishedAt: string | undefined;
  durationSeconds: number;
  mode: LocalStack['mode'];
  /** The simulated tenant; `spec` reproduces its ground truth (`startSimulator({ scenario: spec })`). */
  scenario: { name: string; reused: boolean; tenantIds: string[]; spec: ScenarioSpec } | undefined;
  logFile: string;
  storage: { where: string; endpoint: string; persistent: boolean; queue: string; poisonQueue: string };
  cosmos: {
    where: string;
    endpoint: string;
    /** The stand-in this run started (no Data Explorer; gone when the run ends unless persisted). */
    local: boolean;
    /** Only for the local stand-in: the emulator's public well-known key. */
    key: string | undefined;
    database: string;
    container: string;
    persistent: boolean;
  };
  contentTypes: Partial<
    Record<
      ContentType,
      { collected: number; written: number; inStore: number | undefined; lagSeconds: number | undefined }
    >
  >;
  totals: { collected: number; written: number; inStore: number | undefined; recordsPerSecond: number };
  queue: { messages: number; written: number; failedDeliveries: number; poison: number };
  collectorRuns: number;
  /** Content types that did not complete in the latest collector run, and why. */
  collectorProblems: Array<{ contentType: ContentType; outcome: string; error: string | undefined }>;
  gaps: number;
  /** Blobs re-listing found late and the latest of them (seconds); blobs left in quarantine. */
  late: { blobs: number; maxSeconds: number };
  quarantined: number;
  rejected: number;
  oversize: number;
  check: StoreCheck | undefined;
  stop?: StopInfo;
  error?: string;
}

export function buildReport(
  status: RunStatus,
  stack: LocalStack,
  stats: RunStats,
  logFile: string,
  check: StoreCheck | undefined,
  finished: boolean,
): RunReport {
  const now = Date.now();
  const elapsed = stats.elapsedMs(now);
  const { config } = stack;
  const contentTypes: RunReport['contentTypes'] = {};
  for (const [ct, t] of stats.types) {
    contentTypes[ct] = {
      collected: t.collected,
      written: t.written,
      inStore: check ? (check.perType[ct] ?? 0) : undefined,
      lagSeconds: stats.lagSeconds(ct, now),
    };
  }
  const truthOk =
    !check?.truth ||
    (check.truth.missing === 0 && check.truth.duplicated === 0 && check.truth.unexpected === 0);
  const storiesOk = (check?.stories ?? []).every((s) => s.inStore >= s.available);
  return {
    status,
    ok:
      (status === 'caught-up' || status === 'following' || status === 'stopped') &&
      stats.poisoned.length === 0 &&
      truthOk &&
      storiesOk,
    pid: process.pid,
    servicePids: stack.pids(),
    startedAt: new Date(stats.startedAt).toISOString(),
    finishedAt: finished ? new Date(now).toISOString() : undefined,
    durationSeconds: Math.round(elapsed / 100) / 10,
    mode: stack.mode,
    scenario: stack.scenario
      ? {
          name: stack.scenario.name,
          reused: stack.scenario.reused,
          tenantIds: stack.sim?.tenants ?? [],
          spec: stack.scenario.spec,
        }
      : undefined,
    logFile,
    storage: {
      where: stack.storage.where,
      endpoint: stack.storage.endpoint,
      persistent: stack.storage.persistent,
      queue: config.queueName,
      poisonQueue: `${config.queueName}-poison`,
    },
    cosmos: {
      where: stack.cosmos.where,
      endpoint: stack.cosmos.endpoint,
      local: stack.cosmos.local,
      key: stack.cosmos.key,
      database: config.cosmos.database,
      container: config.cosmos.container,
      persistent: stack.cosmos.persistent,
    },
    contentTypes,
    totals: {
      collected: stats.collected,
      written: stats.writtenTotal,
      inStore: check?.documents,
      recordsPerSecond: elapsed > 0 ? Math.round((stats.writtenTotal * 1000) / elapsed) : 0,
    },
    queue: {
      messages: stats.messagesEnqueued,
      written: stats.messagesWritten,
      failedDeliveries: stats.failedDeliveries,
      poison: stats.poisoned.length,
    },
    collectorRuns: stats.collectorRuns,
    collectorProblems: (stats.lastRun?.contentTypes ?? [])
      .filter((c) => c.outcome !== 'complete')
      .map((c) => ({ contentType: c.contentType, outcome: c.outcome, error: c.error })),
    gaps: stats.gaps,
    late: { blobs: stats.lateBlobs, maxSeconds: stats.maxLatenessSeconds },
    quarantined: stats.quarantined,
    // Refused by the collector (kept in rejected/) or by the writer.
    rejected: stats.rejected + stats.collectorRejected,
    oversize: stats.oversize,
    check,
  };
}

export function writeReport(file: string, report: RunReport): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

const HEADLINES: Record<RunStatus, string> = {
  running: 'running',
  following: 'following new activity',
  stopping: 'stopping',
  'caught-up': 'caught up',
  stopped: 'stopped while following',
  interrupted: 'interrupted before catching up',
  'collector-failed': 'stopped: the collector keeps failing (see the log)',
  failed: 'failed',
};

/** The summary a person reads at the end. */
export function formatSummary(r: RunReport): string[] {
  const out: string[] = [];
  const elapsedMs = r.durationSeconds * 1000;
  out.push(
    '',
    `auditfeed local run ${HEADLINES[r.status]} after ${duration(r.durationSeconds)}` +
      (r.ok
        ? r.check?.truth
          ? ' — all checks passed'
          : ' — no problems seen; completeness not checked (no ground truth, below)'
        : r.status === 'caught-up'
          ? ' — with problems (below)'
          : ''),
    '',
  );
  const rows: string[][] = [['Content type', 'Collected', 'Written', 'In Cosmos DB', 'Lag']];
  for (const [ct, t] of Object.entries(r.contentTypes)) {
    rows.push([
      ct,
      int(t.collected),
      int(t.written),
      t.inStore === undefined ? '—' : int(t.inStore),
      duration(t.lagSeconds),
    ]);
  }
  rows.push([
    'Total',
    int(r.totals.collected),
    int(r.totals.written),
    r.totals.inStore === undefined ? '—' : int(r.totals.inStore),
    '',
  ]);
  out.push(...table(rows, (i) => i > 0).map((l) => `  ${l}`), '');
  out.push(
    `  Time ${duration(r.durationSeconds)} · rate ${rate(r.totals.written, elapsedMs)} written · ` +
      `collector runs ${r.collectorRuns} · gaps ${r.gaps}` +
      (r.late.blobs > 0
        ? ` · late blobs found ${r.late.blobs} (up to ${formatSeconds(r.late.maxSeconds)} late)`
        : '') +
      (r.quarantined > 0 ? ` · quarantined blobs ${r.quarantined}` : ''),
    `  Queue messages ${int(r.queue.messages)} enqueued, ${int(r.queue.written)} written · ` +
      `failed deliveries ${r.queue.failedDeliveries} · poison ${r.queue.poison}` +
      (r.rejected > 0 ? ` · rejected records ${r.rejected}` : '') +
      (r.oversize > 0 ? ` · oversize records ${r.oversize}` : ''),
  );
  // Content types failing for one reason (a wrong secret fails them all) are listed together.
  const problems = new Map<string, string[]>();
  for (const p of r.collectorProblems) {
    const reason =
      p.outcome === 'deadline' && r.stop
        ? `stopped part-way by ${r.stop.signal} (the next run resumes there)`
        : `${p.outcome}${p.error ? `: ${p.error}` : ''}`;
    problems.set(reason, [...(problems.get(reason) ?? []), p.contentType]);
  }
  for (const [reason, contentTypes] of problems)
    out.push(`  Collector: ${contentTypes.join(', ')} ${reason}`);
  if (r.stop && !r.stop.drained) {
    const left = [
      r.stop.abandoned.writerBatches > 0 ? `${r.stop.abandoned.writerBatches} writer batch(es)` : '',
      r.stop.abandoned.collectorRun ? 'the collector run' : '',
    ].filter(Boolean);
    out.push(
      `  Stopped with ${left.join(' and ') || 'work'} still in flight after ${duration(r.stop.drainSeconds)}: ` +
        'the queue delivers those messages again and the next collector run resumes from its watermarks.',
    );
  }
  const c = r.check;
  out.push(...checkLines(r));
  if (c?.truth) {
    const t = c.truth;
    out.push(
      `  Ground truth${r.status === 'following' || r.status === 'stopped' ? ` (checked ${c.checkedAt.slice(11, 19)} UTC)` : ''}: ` +
        `${int(t.expected)} records published by the simulator · missing ${int(t.missing)} · ` +
        `duplicated ${int(t.duplicated)} · unexpected ${int(t.unexpected)}`,
    );
  }
  for (const s of c?.stories ?? []) {
    out.push(
      `  BEC story: victim ${s.victim}, attacker ${s.attackerIp} (${s.attackerCountry}), mail forwarded to ${s.forwardTo}`,
      `             ${s.inStore} of ${s.records} story records in Cosmos DB` +
        (s.available < s.records ? ` (${s.available} published so far)` : '') +
        `: ${s.attackerRecords[0]} of ${s.attackerRecords[1]} attacker records (` +
        Object.entries(s.phases)
          .map(([phase, [found, total]]) => `${phase} ${found}/${total}`)
          .join(', ') +
        `), ${s.lookAlikeRecords[0]} of ${s.lookAlikeRecords[1]} look-alike records`,
      `             spraying tried ${s.sprayedUsers} users; ${s.consent.victim} consented to "${s.consent.app}"; ` +
        `look-alikes, not compromised: ${s.lookAlikeUsers.join(', ')}`,
    );
  }
  out.push(
    '',
    'Where the data is',
    `  Cosmos DB  ${r.cosmos.endpoint}  database "${r.cosmos.database}", container "${r.cosmos.container}" (${r.cosmos.where})`,
  );
  if (r.cosmos.key)
    out.push(`             key: the Cosmos DB emulator's well-known key (${r.cosmos.key.slice(0, 8)}…)`);
  out.push(
    `  Storage    ${r.storage.endpoint} (${r.storage.where})`,
    `             queue "${r.storage.queue}", poison queue "${r.storage.poisonQueue}", watermarks in container "watermarks"`,
    `  Log        ${r.logFile}`,
  );
  if (c?.example) {
    const query = `  node dist/scripts/local/query.js "${c.example.text.replace(/"/g, '\\"')}"`;
    out.push(
      '',
      ...(r.cosmos.local
        ? [
            `Query it with any Cosmos DB SDK (${c.example.rows} rows now):`,
            `  ${c.example.text}`,
            'or, while a local stack runs (e.g. `npm start -- --follow`), from another terminal:',
            `  npm run auditfeed -- query "${c.example.text.replace(/"/g, '\\"')}"`,
          ]
        : [
            `Query it in the Azure portal's Data Explorer or with any Cosmos DB SDK (${c.example.rows} rows now):`,
            `  ${c.example.text}`,
            'or from a terminal (the key from AUDITFEED_COSMOS__accountKey, else your Azure sign-in):',
            query,
          ]),
    );
  }
  if (!r.cosmos.persistent && r.cosmos.local) {
    out.push(
      '',
      'This Cosmos DB was in memory and stopped with the run: `npm start -- --follow` keeps it up to query,',
      '`npm start -- --persist` keeps the data for the next run (see README, "Local runs").',
    );
  }
  out.push('');
  return out;
}

/** What the run checked in the store, and — as plainly — what it did not. */
function checkLines(r: RunReport): string[] {
  const c = r.check;
  if (!c) {
    const why =
      r.status === 'interrupted'
        ? `the run was stopped${r.stop ? ` by ${r.stop.signal}` : ''} before catching up`
        : 'the run did not catch up';
    return [`  Not checked: the store (${why}).`];
  }
  if (c.truth) return [];
  const lines = [
    `  Checked: Cosmos DB holds ${int(c.documents)} documents of ${r.mode === 'tenant' ? 'your tenant' : 'the tenant'}` +
      ` (per content type above); poison messages ${r.queue.poison}.`,
  ];
  lines.push(
    r.mode === 'tenant'
      ? '  Not checked: completeness — only the simulator knows every record a tenant published, so missing or' +
          ' duplicated records cannot be counted against a real tenant.'
      : '  Not checked: the ground truth — no collector run had completed to compare with.',
  );
  return lines;
}
