/**
 * `auditfeed backfill` as an operator runs it: one-line mistakes naming the flag and the fix (exit 2), the
 * clouds Microsoft does not document the API for, a run against the simulator with progress and ETA on
 * stderr and the summary on stdout, resuming, --gaps (and `auditfeed status` showing the gaps filled), and
 * --submit storing the request for the function.
 */
import type { Io } from '../../scripts/cli';
import { main } from '../../scripts/cli/main';
import { decodeBackfillMessage } from '../../shared/backfill/backfillMessage';
import { readStatus } from '../../shared/status';
import { TaskClaimStore } from '../../shared/storage/taskClaimStore';
import { WatermarkStore } from '../../shared/storage/watermarkStore';
import { CONTAINERS } from '../../shared/storage/clients';
import {
  DAY,
  expectExactlyOnce,
  iso,
  MIDNIGHT,
  NOW,
  scenario,
  startBackfillStack,
  TENANT,
  type BackfillStack,
} from './backfillStack';

let stack: BackfillStack;

beforeAll(async () => {
  // A running clock and queries that finish at once: the command waits for real, so it must not wait.
  stack = await startBackfillStack({
    scenario: scenario({ graphAudit: { pageSize: 100, startDelaySeconds: 0, runSeconds: [0, 0] } }),
    clock: { start: NOW, frozen: false },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], env: Record<string, string | undefined> = stack.env): Promise<Ran> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env,
    errIsTTY: false,
    columns: undefined,
    now: () => stack.collector.sim.clock.now(),
  };
  const code = await main(['backfill', ...argv], io);
  return { code, out, err };
}

const day = (n: number): string => iso(MIDNIGHT - n * DAY).slice(0, 10);

describe('mistakes are one line naming the flag and the fix, exit code 2', () => {
  it.each([
    [
      ['--tenant', TENANT, '--from', '2026-13-01', '--to', day(1)],
      /--from needs an ISO 8601 date.*2026-13-01/,
    ],
    [['--tenant', TENANT, '--from', day(1), '--to', day(3)], /--from \(.*\) must be before --to/],
    [['--tenant', TENANT, '--from', day(2), '--to', day(2)], /must be before --to/],
    [['--tenant', TENANT, '--to', day(1)], /--from is required \(or --gaps\)/],
    [['--from', day(3), '--to', day(1)], /--tenant is required/],
    [
      ['--tenant', TENANT, '--from', day(200), '--to', day(1)],
      /--from .* is older than the audit retention \(180 days.*AUDITFEED_AUDIT_RETENTION_DAYS/,
    ],
    [['--tenant', TENANT, '--from', day(3), '--to', '2027-01-01'], /--to .* is in the future/],
    [
      ['--tenant', '11111111-2222-4333-8444-555555555555', '--from', day(3), '--to', day(1)],
      /--tenant 1111.* is not one of AUDITFEED_TENANT_IDS .*add the tenant/,
    ],
    [
      ['--tenant', TENANT, '--from', day(3), '--to', day(1), '--content-types', 'Audit.Mail'],
      /"Audit.Mail" is not a content type/,
    ],
    [['--gaps', '--from', day(3)], /give --gaps or --from\/--to, not both/],
    [
      ['--tenant', TENANT, '--from', day(3), '--to', day(1), '--window-hours', '0'],
      /--window-hours needs a whole number/,
    ],
  ])('%j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('a retention set longer lets an older --from through the check', async () => {
    const r = await run(['--tenant', TENANT, '--from', day(200), '--to', day(199), '--submit'], {
      ...stack.env,
      AUDITFEED_AUDIT_RETENTION_DAYS: '365',
      AUDITFEED_BACKFILL_QUEUE_NAME: 'retention-check',
    });
    expect(r.code).toBe(0);
  });

  it.each(['GCCHigh', 'DoD', '21Vianet'])(
    'in %s it says the API is global-only and points to import',
    async (cloud) => {
      const env = { ...stack.env, AUDITFEED_CLOUD: cloud };
      const r = await run(['--tenant', TENANT, '--from', day(3), '--to', day(1)], env);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`documented for the global service only, not for ${cloud}`));
      expect(r.err).toMatch(/auditfeed import <file>/);
    },
  );

  it('--help explains the command, its permission and exit codes', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/AuditLogsQuery\.Read\.All/);
    expect(r.out).toMatch(/--gaps/);
    expect(r.out).toMatch(/--submit/);
    expect(r.out).toMatch(/Exit code: 0 complete/);
  });
});

it('runs a backfill with progress and ETA on stderr, the summary on stdout; running it again adds nothing', async () => {
  const writer = stack.writer();
  const argv = ['--tenant', TENANT, '--from', day(30), '--to', day(25), '--progress'];
  const r = await run(argv);
  expect(r.code).toBe(0);
  expect(r.err).toMatch(
    /\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2} \[#+\.*\] \d+% \d+\/5 windows, [\d,]+ records, ETA /,
  );
  expect(r.err).toMatch(/\[#{24}\] 100% 5\/5 windows/);
  expect(r.out).toMatch(/: complete\n/);
  expect(r.out).toMatch(/windows: 5 done, 0 partial, 0 failed, 0 open of 5/);
  expect(r.out).toMatch(
    /queries created 5, requests \d+ \([\d.]+ per 1,000 records\), [\d.]+ records\/s, throttled 0/,
  );
  expect(r.out).toMatch(new RegExp(`progress: watermarks/${TENANT}/backfill/`));
  await stack.writeAll(writer);
  const truth = stack.truth(iso(MIDNIGHT - 30 * DAY), iso(MIDNIGHT - 25 * DAY));
  expect(truth.size).toBeGreaterThan(0);
  expectExactlyOnce(await stack.stored(writer), truth);

  const again = await run([...argv, '--json']);
  expect(again.code).toBe(0);
  const [summary] = JSON.parse(again.out) as Array<{
    outcome: string;
    run: { queriesCreated: number; records: number };
  }>;
  expect(summary).toMatchObject({ outcome: 'complete', run: { queriesCreated: 0, records: 0 } });
}, 60_000);

it('--gaps fills the gaps the collector recorded, and status shows them filled (or partly, when part was too old)', async () => {
  const watermarks = new WatermarkStore(
    stack.runtime.storage.blobs.getContainerClient(CONTAINERS.watermarks),
  );
  await watermarks.ensureContainer();
  const { watermark, etag } = await watermarks.load(TENANT, 'Audit.Exchange');
  const gapStart = iso(MIDNIGHT - 40 * DAY);
  const gapEnd = iso(MIDNIGHT - 39 * DAY);
  const blobCreated = iso(MIDNIGHT - 60 * DAY + 3_600_000);
  watermark.addGap({ start: gapStart, end: gapEnd, reason: 'cursor-older-than-api-retention' });
  watermark.addGap({
    start: blobCreated,
    end: iso(Date.parse(blobCreated) + 7 * DAY),
    reason: 'content-expired',
    contentId: 'expired-blob-1',
  });
  watermark.addGap({
    start: iso(MIDNIGHT - 400 * DAY),
    end: iso(MIDNIGHT - 399 * DAY),
    reason: 'cursor-older-than-api-retention',
  });
  // Its records start 48 h before it, beyond the 180 days: only the part after the retention can be read.
  const edgeStart = iso(MIDNIGHT - 179 * DAY);
  const edgeEnd = iso(MIDNIGHT - 178 * DAY);
  watermark.addGap({ start: edgeStart, end: edgeEnd, reason: 'cursor-older-than-api-retention' });
  await watermarks.save(watermark, etag, stack.collector.sim.clock.now());

  const writer = stack.writer();
  const r = await run(['--gaps', '--tenant', TENANT, '--content-types', 'Audit.Exchange']);
  expect(r.err).toMatch(
    /gap .* is older than the audit retention \(180 days\): nothing can fill it any more/,
  );
  expect(r.code).toBe(0);
  // Three ranges: the cursor gap (from 48 h before it), the expired blob's records (the 48 h before it) and
  // the gap at the retention's edge (from the first whole hour the retention holds).
  expect(r.out.match(/: complete\n/g)).toHaveLength(3);
  expect(r.out).toContain(`Backfill ${TENANT} ${iso(MIDNIGHT - 42 * DAY)} to ${gapEnd}: complete`);
  const blobRange: [string, string] = [
    iso(Date.parse(blobCreated) - 2 * DAY),
    iso(Date.parse(blobCreated) + 3_600_000),
  ];
  expect(r.out).toContain(`Backfill ${TENANT} ${blobRange[0]} to ${blobRange[1]}: complete`);
  const edgeFrom = /Backfill \S+ (\S+) to (\S+): complete/.exec(
    r.out.split('\n').find((l) => l.includes(` to ${edgeEnd}:`))!,
  )![1]!;
  expect(Date.parse(edgeFrom)).toBeGreaterThan(Date.parse(edgeStart) - 2 * DAY);
  expect(Date.parse(edgeFrom)).toBeLessThan(Date.parse(edgeStart));
  await stack.writeAll(writer);
  // Exactly the ground truth's Exchange records over the filled ranges, each once.
  const exchangeIds = stack.collector.sim.truth.recordIds({
    tenantId: TENANT,
    contentType: 'Audit.Exchange',
  });
  const expected = new Set(
    [[iso(MIDNIGHT - 42 * DAY), gapEnd], blobRange, [edgeFrom, edgeEnd]].flatMap(([from, to]) =>
      [...stack.truth(from!, to!)].filter((id) => exchangeIds.has(id)),
    ),
  );
  expect(expected.size).toBeGreaterThan(0);
  expectExactlyOnce(await stack.stored(writer), expected);

  const status = await readStatus({
    tenants: [TENANT],
    contentTypes: ['Audit.Exchange'],
    watermarks,
    claims: new TaskClaimStore(stack.runtime.storage.blobs.getContainerClient(CONTAINERS.watermarks)),
    backfills: stack.runtime.store,
    queues: stack.runtime.storage.queues,
    queueName: stack.config.queueName,
    lagWarningSeconds: 3600,
    now: stack.collector.sim.clock.now(),
  });
  const exchange = status.contentTypes[0]!;
  expect(exchange).toMatchObject({ gapsFilled: 2, gapsPartlyFilled: 1 });
  expect(
    exchange.gaps
      .filter((g) => g.filledAt && !g.notFilledBefore)
      .map((g) => g.start)
      .sort(),
  ).toEqual([blobCreated, gapStart].sort());
  // Partly filled: the part before the backfill's start was too old, and status names it.
  expect(exchange.gaps.filter((g) => g.notFilledBefore)).toEqual([
    expect.objectContaining({ start: edgeStart, notFilledBefore: edgeFrom }),
  ]);
  // The one too old stays a problem, and so does the part too old of the partly filled one.
  expect(status.problems.filter((p) => /gap\(s\) (recorded|only partly)/.test(p))).toEqual([
    `${TENANT} Audit.Exchange: 1 gap(s) recorded: content the service no longer had (\`auditfeed backfill --gaps\` fills them from the audit log)`,
    `${TENANT} Audit.Exchange: 1 gap(s) only partly filled: their records before ${edgeFrom} were older than the audit retention when the backfill ran and are lost (see the gaps below)`,
  ]);
  expect(status.backfills.filter((b) => b.gapsFilled > 0)).toHaveLength(3);

  // What an operator sees: `auditfeed status` marks the filled gaps and lists the backfills.
  let shown = '';
  const code = await main(['status'], {
    out: (t) => (shown += t),
    err: (t) => (shown += t),
    env: {
      AUDITFEED_STORAGE: stack.env.AUDITFEED_STORAGE,
      AUDITFEED_TENANT_IDS: TENANT,
      AUDITFEED_CONTENT_TYPES: 'Audit.Exchange',
    },
    errIsTTY: false,
    columns: undefined,
    now: () => stack.collector.sim.clock.now(),
  });
  expect(code).toBe(1); // the gap older than the retention still needs looking at
  expect(shown).toContain(
    `Gap ${TENANT} Audit.Exchange: ${gapStart} to ${gapEnd} (cursor-older-than-api-retention) filled by a backfill`,
  );
  expect(shown).toMatch(
    new RegExp(
      `Backfill ${TENANT} .* \\(Audit\\.Exchange\\): complete, \\d+/\\d+ window\\(s\\) done, \\d+ record\\(s\\) read, filled 1 gap\\(s\\)`,
    ),
  );
  expect(shown).toContain(
    `Gap ${TENANT} Audit.Exchange: ${edgeStart} to ${edgeEnd} (cursor-older-than-api-retention) partly filled ` +
      `by a backfill `,
  );
  expect(shown).toMatch(
    new RegExp(
      `${edgeEnd} \\(cursor-older-than-api-retention\\) partly filled by a backfill \\S+: records before ${edgeFrom} were older than the audit retention and could not be read`,
    ),
  );
  expect(shown).toMatch(/ 4 \(2 filled, 1 partly\) /);

  // Again: nothing left to fill.
  const again = await run(['--gaps', '--tenant', TENANT, '--content-types', 'Audit.Exchange']);
  expect(again.code).toBe(0);
  expect(again.err).toMatch(/3 gap\(s\) were filled by an earlier backfill/);
  expect(again.out).toBe('No gaps to fill.\n');
}, 60_000);

it('--submit stores the request for the backfill function with only the storage settings', async () => {
  const env = {
    AUDITFEED_STORAGE: stack.env.AUDITFEED_STORAGE,
    AUDITFEED_TENANT_IDS: TENANT,
    AUDITFEED_BACKFILL_QUEUE_NAME: 'submit-test',
  };
  const r = await run(
    [
      '--tenant',
      TENANT,
      '--from',
      day(90),
      '--to',
      day(1),
      '--content-types',
      'Audit.Exchange,DLP.All',
      '--submit',
    ],
    env,
  );
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/Submitted: the backfill function carries out .* from queue submit-test/);
  const queue = stack.runtime.storage.queues.getQueueClient('submit-test');
  const { receivedMessageItems } = await queue.receiveMessages();
  expect(receivedMessageItems).toHaveLength(1);
  const m = decodeBackfillMessage(receivedMessageItems[0]!.messageText);
  expect(m).toMatchObject({
    tenantId: TENANT,
    from: iso(MIDNIGHT - 90 * DAY),
    to: iso(MIDNIGHT - DAY),
    contentTypes: ['Audit.Exchange', 'DLP.All'],
    windowMs: DAY,
    run: 1,
  });
  expect(m.createdBy).toMatch(/--submit$/);
});
