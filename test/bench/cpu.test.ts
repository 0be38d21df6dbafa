import { cpuMeter, cpuMsOf } from '../../scripts/bench/cpu';

describe('bench CPU accounting from /proc', () => {
  const linux = process.platform === 'linux' ? it : it.skip;

  linux('reads a process CPU time that grows while it works', () => {
    const meter = cpuMeter({ self: process.pid });
    // Spin until the kernel's own account (process.cpuUsage) says 300 ms of CPU were used, however long
    // that takes on a busy machine: wall time would measure the scheduler, not the meter.
    const start = process.cpuUsage();
    const cpuMs = (): number => {
      const { user, system } = process.cpuUsage(start);
      return (user + system) / 1000;
    };
    let spin = 0;
    while (cpuMs() < 300) spin++;
    const used = meter.stop();
    expect(spin).toBeGreaterThan(0);
    // /proc counts in 10 ms ticks; the two accounts of the same 300 ms agree to within a few ticks.
    expect(used.self).toBeGreaterThanOrEqual(250);
    expect(used.self).toBeLessThan(5_000);
  });

  it('leaves out a process that does not exist', () => {
    expect(cpuMsOf(2 ** 22 + 12345)).toBeUndefined();
    expect(cpuMeter({ gone: 2 ** 22 + 12345 }).stop()).toEqual({});
  });
});
