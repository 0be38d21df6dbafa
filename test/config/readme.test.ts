import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '../../shared/config';

describe('docs/configuration.md', () => {
  it('documents every setting the code reads', () => {
    const readme = readFileSync(join(__dirname, '../../docs/configuration.md'), 'utf8');
    const missing = Object.values(SETTINGS)
      .map((s) => s.name)
      .filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
