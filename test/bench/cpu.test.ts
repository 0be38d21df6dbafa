import { cpuMeter, cpuMsOf } from '../../scripts/bench/cpu';

describe('bench CPU accounting from /proc', () => {
  const linux = process.platform === 'linux' ? it : it.skip;

  linux('reads a process CPU time that grows while it works', () => {
    const meter = cpuMeter({ self: process.pid });
    const until = Date.now() + 300;
    let spin = 0;
    while (Date.now() < until) spin++;
    const used = meter.stop();
    expect(spin).toBeGreaterThan(0);
    // 300 ms of spinning; ticks are 10 ms, and the test runner may be descheduled for a while.
    expect(used.self).toBeGreaterThanOrEqual(100);
    expect(used.self).toBeLessThan(5_000);
  });

  it('leaves out a process that does not exist', () => {
    expect(cpuMsOf(2 ** 22 + 12345)).toBeUndefined();
    expect(cpuMeter({ gone: 2 ** 22 + 12345 }).stop()).toEqual({});
  });
});
