import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bicepFiles, parseBicep, REPO_ROOT, syntaxProblems } from './bicep';

// No Bicep CLI here: the tree-sitter grammar catches syntax errors; `bicep build` / `bicep lint` run in CI.
describe('Bicep files parse', () => {
  const files = bicepFiles().map((f) => path.relative(REPO_ROOT, f).split(path.sep).join('/'));

  it('finds the templates', () => {
    expect(files).toEqual(expect.arrayContaining(['infra/main.bicep']));
  });

  it.each(files)('%s has no ERROR or MISSING node', async (file) => {
    const tree = await parseBicep(readFileSync(path.join(REPO_ROOT, file), 'utf8'));
    expect(syntaxProblems(tree)).toEqual([]);
  });

  it('reports broken Bicep, so a pass means something', async () => {
    const unclosed = await parseBicep("var settings = {\n  a: 'b'\n");
    const spread = await parseBicep('var merged = {\n  ...base\n}\n');
    expect(syntaxProblems(unclosed)).not.toEqual([]);
    expect(syntaxProblems(spread)).not.toEqual([]);
  });
});
