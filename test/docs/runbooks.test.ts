/**
 * docs/runbooks.md has a section for every alert (the alerts' descriptions link to `runbooks.md#<rule name>`),
 * and every `npm run <script>` and operator-command flag the docs mention exists.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs as replayArgs } from '../../scripts/replay-poison';
import { parseArgs as statusArgs } from '../../scripts/status';
import { RULE_NAMES } from '../infra/alertRules';

const ROOT = path.join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** Every log alert, and the budget (a Consumption budget, not a log alert). */
const EXPECTED_ALERTS = [...RULE_NAMES, 'budget'];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  const outsideCode = markdown.replace(/```[\s\S]*?```/g, '');
  return new Set([...outsideCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

/** The `name: '<x>'` entries of the alert rules in infra/app/alerts.bicep (from `var rules` to the next module). */
export function alertRuleNames(bicep: string): string[] {
  const start = bicep.search(/^var rules\b/m);
  if (start < 0) throw new Error('infra/app/alerts.bicep has no `var rules`');
  const rest = bicep.slice(start);
  const end = rest.search(/^(module|resource|output) /m);
  const block = end < 0 ? rest : rest.slice(0, end);
  return [...block.matchAll(/^\s+name: '([a-z][a-z0-9-]*)'\s*$/gm)].map((m) => m[1]!);
}

const runbooks = read('docs/runbooks.md');
const headings = [...runbooks.matchAll(/^## (.+)$/gm)].map((m) => m[1]!.trim());

describe('docs/runbooks.md', () => {
  it('parses the rule names out of alerts.bicep', () => {
    const names = alertRuleNames(read('infra/app/alerts.bicep'));
    expect(names.length).toBeGreaterThanOrEqual(9);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['collector-lag', 'poison-message', 'function-failures']));
  });

  it.each(alertRuleNames(read('infra/app/alerts.bicep')))(
    'has a "## %s" section for the rule in alerts.bicep',
    (name) => {
      expect(headings).toContain(name);
    },
  );

  it.each(EXPECTED_ALERTS)('has a "## %s" section', (name) => {
    expect(headings).toContain(name);
    expect(slug(name)).toBe(name); // the anchor an alert description links to is the rule name itself
  });

  it('says in every alert section what it means, how to find the cause, what to do and how to confirm', () => {
    const sections = runbooks.split(/^## /m).slice(1);
    for (const name of EXPECTED_ALERTS) {
      const section = sections.find((s) => s.startsWith(`${name}\n`));
      expect(section).toBeDefined();
      for (const part of ['**What it means.**', '**Find the cause.**', '**What to do', '**Confirm.**']) {
        if (!section!.includes(part)) throw new Error(`## ${name} has no ${part}`);
      }
    }
  });

  it('every runbooks.md#anchor in the infrastructure templates and docs exists', () => {
    const known = anchors(runbooks);
    const files = [
      ...readdirSync(path.join(ROOT, 'infra', 'app')).map((f) => `infra/app/${f}`),
      'infra/main.bicep',
      ...readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`),
      'README.md',
    ].filter((f) => /\.(bicep|md|json)$/.test(f));
    for (const file of files) {
      const text = read(file);
      for (const m of text.matchAll(/runbooks\.md#([A-Za-z0-9_-]+)/g)) {
        if (!known.has(m[1]!))
          throw new Error(`${file} links to runbooks.md#${m[1]}, which is not a heading`);
      }
      if (file === 'docs/runbooks.md') {
        for (const m of text.matchAll(/\]\(#([A-Za-z0-9_-]+)\)/g)) {
          if (!known.has(m[1]!))
            throw new Error(`docs/runbooks.md links to #${m[1]}, which is not a heading`);
        }
      }
    }
  });
});

describe('links between the operations docs', () => {
  it.each(['docs/runbooks.md', 'docs/upgrade.md'])('%s: every link to a heading of a doc exists', (file) => {
    const text = read(file);
    for (const m of text.matchAll(/\]\(((?:[\w-]+\.md)?)#([A-Za-z0-9_-]+)\)/g)) {
      const target = m[1] ? `docs/${m[1]}` : file;
      if (!anchors(read(target)).has(m[2]!))
        throw new Error(`${file} links to ${target}#${m[2]}: no such heading`);
    }
  });
});

describe('commands the docs mention', () => {
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  const docs = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
    f.endsWith('.md'),
  );

  it.each(docs)('%s: every `npm run <script>` is a script of package.json', (file) => {
    for (const m of read(file).matchAll(/npm run ([A-Za-z][\w:-]*)/g)) {
      if (!(m[1]! in pkg.scripts)) throw new Error(`${file} mentions npm run ${m[1]}, not in package.json`);
    }
  });

  it.each(docs)('%s: the flags given to npm run status and npm run replay-poison are accepted', (file) => {
    const parsers: Record<string, (argv: readonly string[]) => unknown> = {
      status: statusArgs,
      'replay-poison': replayArgs,
    };
    for (const m of read(file).matchAll(/npm run (status|replay-poison) -- ([^\n`#|)]*)/g)) {
      const argv = m[2]!.trim().split(/\s+/).filter(Boolean);
      expect(() => parsers[m[1]!]!(argv)).not.toThrow();
    }
  });

  it('the runbooks use the status flags that exist', () => {
    expect(runbooks).toContain('npm run status -- --json');
    expect(runbooks).toContain('npm run status -- --lag-warning-minutes');
    expect(runbooks).toContain('npm run replay-poison -- --dry-run');
  });
});
