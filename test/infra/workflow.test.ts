import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DIGEST_DIR, type AvmDigest } from '../../scripts/avm-digests';
import { REPO_ROOT } from './bicep';

const WORKFLOWS = path.join(REPO_ROOT, '.github', 'workflows');
const workflows = readdirSync(WORKFLOWS)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => ({ name: `.github/workflows/${f}`, text: readFileSync(path.join(WORKFLOWS, f), 'utf8') }));

/** `1.2.3` or `v1.2.3.4` as numbers, for comparing versions. */
const parts = (version: string): number[] => version.replace(/^v/, '').split('.').map(Number);
const atLeast = (a: string, b: string): boolean => {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return true;
};

describe('workflow supply chain', () => {
  it('every action is pinned to a full commit SHA with the release tag as a comment', () => {
    const uses = workflows.flatMap(({ name, text }) =>
      text
        .split('\n')
        .flatMap((line, i) => (/^\s*(-\s+)?uses:/.test(line) ? [{ at: `${name}:${i + 1}`, line }] : [])),
    );
    expect(uses.length).toBeGreaterThan(0);
    const unpinned = uses
      .filter(({ line }) => !/uses:\s*\.\//.test(line)) // actions in this repository need no pin
      .filter(({ line }) => !/uses:\s*[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$/.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(unpinned).toEqual([]);
  });

  it('the Bicep job installs one pinned Bicep version, at least the one that built every AVM module', () => {
    const ci = workflows.find((w) => w.name.endsWith('/ci.yml'))!.text;
    const pinned = /^\s+BICEP_VERSION: (v\d+\.\d+\.\d+)$/m.exec(ci)?.[1];
    expect(pinned).toBeDefined();
    expect(ci).toContain('az bicep install --version "$BICEP_VERSION"');
    expect(ci).not.toMatch(/az bicep install\s*$/m);

    const generators = readdirSync(DIGEST_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(DIGEST_DIR, f), 'utf8')) as AvmDigest);
    expect(generators.length).toBeGreaterThan(5);
    const older = generators
      .filter((d) => !atLeast(pinned!, d.bicepGenerator))
      .map((d) => `${d.module}:${d.version} was built with Bicep ${d.bicepGenerator}`);
    expect(older).toEqual([]);
  });
});
