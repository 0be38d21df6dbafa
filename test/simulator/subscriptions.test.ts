import { startSimulator } from '../../scripts/simulator';
import type { Simulator } from '../../scripts/simulator';
import { PUBLISHER, TENANT, api, errorCode, tokenFor } from './helpers';

describe('simulator: subscriptions', () => {
  let sim: Simulator;
  let token: string;

  beforeAll(async () => {
    sim = await startSimulator({
      scenario: {
        seed: 'subs',
        tenants: [{ tenantId: TENANT }],
        activity: { start: '2026-11-20T00:00:00Z', end: '2026-11-20T06:00:00Z' },
      },
      clock: { start: '2026-11-20T12:00:00Z', frozen: true },
    });
    token = await tokenFor(sim);
  });

  afterAll(() => sim.stop());

  it('walks AF20022 → start → listing works → AF20024 on re-start → stop → AF20022', async () => {
    const a = api(sim, token);
    const ct = { contentType: 'Audit.SharePoint' };
    const before = await a.get('subscriptions/content', ct);
    expect(before.status).toBe(400);
    expect(before.data).toEqual({
      error: { code: 'AF20022', message: 'No subscription found for the specified content type.' },
    });
    expect(sim.subscriptions.state(TENANT, 'Audit.SharePoint')).toBe('none');

    const started = await a.post('subscriptions/start', ct);
    expect(started.status).toBe(200);
    expect(started.data).toEqual({ contentType: 'Audit.SharePoint', status: 'enabled', webhook: null });
    expect(sim.subscriptions.state(TENANT, 'Audit.SharePoint')).toBe('enabled');
    expect((await a.get('subscriptions/content', ct)).status).toBe(200);

    const again = await a.post('subscriptions/start', ct);
    expect(again.status).toBe(400);
    expect(again.data).toEqual({
      error: { code: 'AF20024', message: 'The subscription is already enabled. No property change.' },
    });

    const list = await a.get('subscriptions/list');
    expect(list.data).toEqual([{ contentType: 'Audit.SharePoint', status: 'enabled', webhook: null }]);

    const stopped = await a.post('subscriptions/stop', ct);
    expect(stopped.status).toBe(200);
    expect(stopped.data).toBe('');
    expect((await a.get('subscriptions/list')).data).toEqual([
      { contentType: 'Audit.SharePoint', status: 'disabled', webhook: null },
    ]);
    expect(errorCode(await a.get('subscriptions/content', ct))).toBe('AF20022');
    expect((await a.post('subscriptions/start', ct)).status).toBe(200);

    const log = sim.truth.requests.filter((r) => r.route === 'start');
    expect(log.map((r) => [r.status, r.errorCode ?? null])).toEqual([
      [200, null],
      [400, 'AF20024'],
      [200, null],
    ]);
    expect(
      log.every((r) => r.publisherIdentifier === PUBLISHER && r.contentType === 'Audit.SharePoint'),
    ).toBe(true);
  });

  it('reports an admin disable as AF20023 naming who did it', async () => {
    const a = api(sim, token);
    await a.post('subscriptions/start', { contentType: 'Audit.Exchange' });
    sim.subscriptions.disable(TENANT, 'Audit.Exchange', 'a service admin');
    const res = await a.get('subscriptions/content', { contentType: 'Audit.Exchange' });
    expect(res.status).toBe(400);
    expect(res.data).toEqual({
      error: { code: 'AF20023', message: 'The subscription was disabled by a service admin.' },
    });
    expect((await a.post('subscriptions/start', { contentType: 'Audit.Exchange' })).status).toBe(200);
  });

  it('validates the content type and the webhook address', async () => {
    const a = api(sim, token);
    const bad = await a.post('subscriptions/start', { contentType: 'Audit.Everything' });
    expect(bad.status).toBe(400);
    expect(bad.data).toEqual({
      error: { code: 'AF20020', message: 'The specified content type is not valid.' },
    });
    const missing = await a.post('subscriptions/start');
    expect(missing.data).toEqual({ error: { code: 'AF20001', message: 'Missing parameter: contentType.' } });
    const hook = await a.post(
      'subscriptions/start',
      { contentType: 'DLP.All' },
      { webhook: { address: 'http://example.com/hook' } },
    );
    expect(errorCode(hook)).toBe('AF20021');
    expect(sim.subscriptions.state(TENANT, 'DLP.All')).toBe('none');
    const wrongMethod = await a.get('subscriptions/start', { contentType: 'DLP.All' });
    expect(wrongMethod.status).toBe(405);
  });
});
