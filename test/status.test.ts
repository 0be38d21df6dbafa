import { main, parseArgs } from '../scripts/status';
import type { PipelineStatus } from '../shared/status';
import { formatSeconds } from '../shared/status';
import { startCollectorStack, type CollectorStack } from './helpers/stack';

/** `npm run status` against Azurite and the watermarks real collector runs leave. */

const TENANT = '2b4d6f80-1a3c-4e5f-8a7b-9c0d1e2f3a4b';
const NOW = '2026-11-20T12:00:00Z';
const HOUR = 3_600_000;

describe('npm run status', () => {
  let stack: CollectorStack;
  afterAll(async () => stack?.stop());

  beforeAll(async () => {
    stack = await startCollectorStack({
      scenario: {
        seed: 'status',
        tenants: [{ tenantId: TENANT, users: 5 }],
        activity: {
          start: '2026-11-20T06:00:00Z',
          end: '2026-11-20T11:00:00Z',
          recordsPerHour: { 'Audit.General': 10, 'Audit.Exchange': 10 },
        },
        tokenLifetimeSeconds: 30 * 24 * 3600,
      },
      clock: { start: NOW, frozen: true },
    });
  });

  function run(args: string[], settings: Record<string, string> = {}) {
    const lines: string[] = [];
    const env = { ...stack.env, AUDITFEED_CONTENT_TYPES: 'Audit.General,Audit.Exchange', ...settings };
    return main(args, env, (l) => lines.push(l), new Date(NOW)).then((code) => ({
      code,
      out: lines.join('\n'),
    }));
  }

  it('says what is wrong before any run, then all is well after one', async () => {
    const before = await run(['--json']);
    expect(before.code).toBe(1);
    const s0 = JSON.parse(before.out) as PipelineStatus;
    expect(s0.contentTypes.map((c) => c.started)).toEqual([false, false]);
    expect(s0.problems).toContain(`${TENANT} Audit.General: no collector run has saved progress yet`);

    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.General,Audit.Exchange' });
    await stack.collect(runtime);
    const after = await run([]);
    expect(after.out).toMatch(
      new RegExp(`${TENANT}\\s+Audit\\.General\\s+2026-11-20T12:00:00\\.000Z\\s+0s\\s+complete`),
    );
    expect(after.out).toContain('Poison queue: 0 message(s)');
    expect(after.out).toContain('All well.');
    expect(after.code).toBe(0);
  });

  it('reports gaps with their range, lag, and batches in the poison queue, and exits 1', async () => {
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.Exchange' });
    await runtime.ensureResources();
    const { watermark, etag } = await runtime.watermarks.load(TENANT, 'Audit.Exchange');
    watermark.addGap({
      start: '2026-11-10T00:00:00.000Z',
      end: '2026-11-13T12:15:00.000Z',
      reason: 'cursor-older-than-api-retention',
    });
    watermark.cursor = new Date(Date.parse(NOW) - 3 * HOUR);
    await runtime.watermarks.save(watermark, etag, new Date(NOW));
    const poison = runtime.storage.queues.getQueueClient(`${runtime.config.queueName}-poison`);
    await poison.createIfNotExists();
    await poison.sendMessage('{"v":1}');

    const { code, out } = await run([]);
    expect(code).toBe(1);
    expect(out).toContain(
      `Gap ${TENANT} Audit.Exchange: 2026-11-10T00:00:00.000Z to 2026-11-13T12:15:00.000Z (cursor-older-than-api-retention)`,
    );
    expect(out).toContain(`${TENANT} Audit.Exchange: 3h 0m behind the feed`);
    expect(out).toContain(`${TENANT} Audit.Exchange: 1 gap(s) recorded`);
    expect(out).toContain('1 batch(es) in the poison queue');
    // A higher warning threshold no longer calls 3 hours behind a problem.
    expect((await run(['--lag-warning-minutes', '240'])).out).not.toContain('behind the feed');
  });

  it('fanout mode: shows the task of each unit, and names a lost one', async () => {
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.General' });
    await runtime.ensureResources();
    // A worker started this task an hour ago and never finished: its claim expired.
    await runtime.claims.save(
      TENANT,
      'Audit.General',
      {
        taskId: 'task-7',
        state: 'running',
        enqueuedAt: '2026-11-20T10:58:00.000Z',
        startedAt: '2026-11-20T11:00:00.000Z',
        until: '2026-11-20T11:10:00.000Z',
      },
      undefined,
    );
    const { code, out } = await run([]);
    expect(code).toBe(1);
    expect(out).toMatch(new RegExp(`${TENANT}\\s+Audit\\.General\\s.*running 2026-11-20T11:00:00\\.000Z`));
    expect(out).toContain(
      `${TENANT} Audit.General: its collection task task-7 was lost (running since 2026-11-20T11:00:00.000Z); ` +
        'the next timer run dispatches the unit again',
    );
    const json = JSON.parse((await run(['--json'])).out) as PipelineStatus;
    expect(json.contentTypes[0]!.task).toMatchObject({ taskId: 'task-7', state: 'running' });
  });

  it('refuses bad arguments and bad settings with exit code 2', async () => {
    expect(() => parseArgs(['--lag-warning-minutes', 'soon'])).toThrow(/whole number/);
    expect((await run(['--nope'])).code).toBe(2);
    const bad = await run([], { AUDITFEED_TENANT_IDS: 'contoso.onmicrosoft.com' });
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('AUDITFEED_TENANT_IDS="contoso.onmicrosoft.com"');
  });

  it('formats durations for people', () => {
    expect([45, 125, 3_725, 90_000].map(formatSeconds)).toEqual(['45s', '2m 5s', '1h 2m', '1d 1h']);
  });
});
