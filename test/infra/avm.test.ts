import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DIGEST_DIR,
  digest,
  digestFileName,
  fromGit,
  refresh,
  type AvmDigest,
} from '../../scripts/avm-digests';
import { avmCalls, checkAvmCalls, readDigest } from './avmGuard';
import { REPO_ROOT, loadAllBicep, parseBicep, type BicepFile } from './bicep';

let files: BicepFile[];

beforeAll(async () => {
  files = await loadAllBicep();
});

/** A Bicep source parsed as if it were the given file. */
async function bicep(name: string, source: string): Promise<BicepFile> {
  return { file: path.join(REPO_ROOT, name), name, source, root: (await parseBicep(source)).rootNode };
}

const lineOf = (source: string, text: string): number => {
  const index = source.indexOf(text);
  expect(index).toBeGreaterThanOrEqual(0);
  return source.slice(0, index).split('\n').length;
};

describe('Azure Verified Module calls', () => {
  it('every call matches the parameters and outputs of its pinned version (infra/avm digests)', () => {
    expect(files.flatMap(avmCalls).length).toBeGreaterThan(5);
    expect(files.flatMap((f) => checkAvmCalls(f))).toEqual([]);
  });

  it('every digest belongs to a referenced module version and says so itself', () => {
    const referenced = new Set(files.flatMap(avmCalls).map((c) => digestFileName(c.module, c.version)));
    const digests = readdirSync(DIGEST_DIR).filter((f) => f.endsWith('.json'));
    expect(digests.filter((f) => !referenced.has(f))).toEqual([]); // npm run avm:refresh removes them
    for (const name of digests) {
      const d = JSON.parse(readFileSync(path.join(DIGEST_DIR, name), 'utf8')) as AvmDigest;
      expect(digestFileName(d.module, d.version)).toBe(name);
      expect(d.bicepGenerator).toMatch(/^\d+\.\d+\.\d+/);
    }
  });

  it('reports a misspelled parameter and a misspelled output of a real call, with file:line', () => {
    const original = readFileSync(path.join(REPO_ROOT, 'infra', 'main.bicep'), 'utf8');
    expect(original).toContain('allowBlobPublicAccess: false');
    expect(original).toContain('storageAccountName: storage.outputs.name');
    const source = original
      .replace('allowBlobPublicAccess: false', 'allowBlobPublicAcess: false')
      .replace('storageAccountName: storage.outputs.name', 'storageAccountName: storage.outputs.nmae');
    return bicep('infra/main.bicep', source).then((file) => {
      const call = 'storage (avm/res/storage/storage-account:0.8.3)';
      expect(checkAvmCalls(file)).toEqual([
        `infra/main.bicep:${lineOf(source, 'allowBlobPublicAcess')}: ${call}: unknown parameter 'allowBlobPublicAcess'`,
        `infra/main.bicep:${lineOf(source, 'storage.outputs.nmae')}: ${call}: unknown output 'nmae'`,
      ]);
    });
  });

  it('reports a missing required parameter, a value not allowed and an unknown property of a typed object', async () => {
    const source = [
      "module st 'br/public:avm/res/storage/storage-account:0.8.3' = {",
      "  name: 'st'",
      '  params: {',
      "    location: 'westeurope'",
      "    skuName: cheap ? 'Standard_LRS' : 'Standard_XRS'",
      '    networkAcls: {',
      "      defaultAcion: 'Deny'",
      '    }',
      '  }',
      '}',
      '',
    ].join('\n');
    const call = 'st (avm/res/storage/storage-account:0.8.3)';
    expect(checkAvmCalls(await bicep('infra/x.bicep', source))).toEqual([
      `infra/x.bicep:5: ${call}: skuName: "Standard_XRS" is not one of ${JSON.stringify(
        readDigest('avm/res/storage/storage-account', '0.8.3')!.parameters.skuName!.allowed,
      )}`,
      `infra/x.bicep:7: ${call}: networkAcls: unknown property 'defaultAcion'`,
      `infra/x.bicep:1: ${call}: required parameter 'name' missing`,
    ]);
  });

  it('follows vars (arrays, concat, ternaries) into typed parameters, two levels deep, in a real call', async () => {
    const name = 'infra/app/cosmos.bicep';
    const original = readFileSync(path.join(REPO_ROOT, name), 'utf8');
    const edits: [string, string][] = [
      ['  dataActions: [', '  dataActons: ['], // var fabricMirrorRole, passed as [fabricMirrorRole]
      ['principalId: fabricMirrorPrincipalId', 'principalid: fabricMirrorPrincipalId'], // its assignments[]
      ['principalId: userPrincipalId', 'principalID: userPrincipalId'], // var userAssignment = c ? [..] : [], in concat()
      ['defaultTtl: retentionDays', 'defaultTTL: retentionDays'], // sqlDatabases[].containers[]
    ];
    let source = original;
    for (const [from, to] of edits) {
      expect(original.split(from)).toHaveLength(2); // each edit hits exactly one place
      source = source.replace(from, to);
    }
    const call = 'account (avm/res/document-db/database-account:0.19.0)';
    const at = (text: string): string => `${name}:${lineOf(source, text)}: ${call}`;
    expect(checkAvmCalls(await bicep(name, source)).sort()).toEqual(
      [
        `${at('dataActons')}: sqlRoleDefinitions[]: unknown property 'dataActons'`,
        `${at('principalid:')}: sqlRoleDefinitions[].assignments[]: unknown property 'principalid'`,
        `${at('principalID:')}: sqlRoleAssignments[]: unknown property 'principalID'`,
        `${at('defaultTTL')}: sqlDatabases[].containers[]: unknown property 'defaultTTL'`,
      ].sort(),
    );
  });

  it('follows a var of diagnostic settings, a for expression in it, and a var holding an allowed value', async () => {
    const source = [
      "var categories = ['AuditEvent']",
      'var logs = [for c in categories: {',
      '  categry: c',
      '}]',
      'var settings = [',
      '  {',
      "    name: 'audit'",
      "    workspaceResourceID: 'ws'",
      '    logCategoriesAndGroups: logs',
      '  }',
      ']',
      "var sku = 'premium2'",
      'var loopA = loopB',
      'var loopB = loopA',
      "module kv 'br/public:avm/res/key-vault/vault:0.12.1' = {",
      "  name: 'kv'",
      '  params: {',
      "    name: 'kv'",
      '    sku: sku',
      '    diagnosticSettings: (settings)',
      '    roleAssignments: loopA',
      '    networkAcls: loopB',
      '  }',
      '}',
      '',
    ].join('\n');
    const call = 'kv (avm/res/key-vault/vault:0.12.1)';
    expect(checkAvmCalls(await bicep('infra/z.bicep', source))).toEqual([
      `infra/z.bicep:19: ${call}: sku: "premium2" is not one of ${JSON.stringify(
        readDigest('avm/res/key-vault/vault', '0.12.1')!.parameters.sku!.allowed,
      )}`,
      `infra/z.bicep:8: ${call}: diagnosticSettings[]: unknown property 'workspaceResourceID'`,
      `infra/z.bicep:3: ${call}: diagnosticSettings[].logCategoriesAndGroups[]: unknown property 'categry'`,
    ]);
  });

  it('asks for npm run avm:refresh when a module version has no digest', async () => {
    const source = "module x 'br/public:avm/res/web/site:9.9.9' = {\n  name: 'x'\n  params: {}\n}\n";
    expect(checkAvmCalls(await bicep('infra/y.bicep', source))).toEqual([
      'infra/y.bicep:1: x (avm/res/web/site:9.9.9): no digest infra/avm/res.web.site@9.9.9.json; run npm run avm:refresh',
    ]);
  });
});

describe('scripts/avm-digests.js', () => {
  /** A compiled module with the shapes main.json uses: $ref types, nullable, defaults, discriminators. */
  const template = (extraOutput: string) => ({
    languageVersion: '2.0',
    metadata: { _generator: { name: 'bicep', version: '0.40.2.10011', templateHash: '123' } },
    definitions: {
      lockType: {
        type: 'object',
        properties: { name: { type: 'string', nullable: true }, kind: { type: 'string', nullable: true } },
        nullable: true,
      },
      roleType: {
        type: 'object',
        properties: {
          principalId: { type: 'string' },
          condition: { $ref: '#/definitions/conditionType' },
          scopes: { type: 'array', items: { $ref: '#/definitions/scopeType' }, nullable: true },
        },
      },
      conditionType: { type: 'object', properties: { expression: { type: 'string' } }, nullable: true },
      scopeType: { type: 'object', properties: { id: { type: 'string' }, kind: { type: 'string' } } },
      configType: { type: 'object', discriminator: { propertyName: 'name', mapping: {} } },
    },
    parameters: {
      name: { type: 'string' },
      sku: { type: 'string', defaultValue: 'B1', allowedValues: ['B1', 'S1'] },
      lock: { $ref: '#/definitions/lockType' },
      roles: { type: 'array', items: { $ref: '#/definitions/roleType' }, nullable: true },
      configs: { type: 'array', items: { $ref: '#/definitions/configType' }, nullable: true },
      settings: {
        type: 'object',
        additionalProperties: { type: 'string' },
        properties: { a: { type: 'string' } },
      },
    },
    outputs: {
      resourceId: { type: 'string', value: '[x]' },
      [extraOutput]: { $ref: '#/definitions/roleType' },
    },
  });

  it('digests parameters (type, required, allowed, closed property lists and the ones below them) and outputs', () => {
    const d = digest(template('role'), { module: 'avm/res/demo/thing', version: '1.2.3', source: 'test' });
    expect(d).toEqual({
      module: 'avm/res/demo/thing',
      version: '1.2.3',
      source: 'test',
      bicepGenerator: '0.40.2.10011',
      templateHash: '123',
      parameters: {
        configs: { type: 'array', required: false }, // discriminated: no fixed property list
        lock: { type: 'object', required: false, properties: ['kind', 'name'] }, // nullable via its type
        name: { type: 'string', required: true },
        roles: {
          type: 'array',
          required: false,
          itemProperties: ['condition', 'principalId', 'scopes'],
          // One level further down: an object property, and the items of an array property.
          nested: { condition: ['expression'], 'scopes[]': ['id', 'kind'] },
        },
        settings: { type: 'object', required: true }, // additionalProperties: any name
        sku: { type: 'string', required: false, allowed: ['B1', 'S1'] },
      },
      outputs: { resourceId: { type: 'string' }, role: { type: 'object' } },
    });
  });

  it('reads main.json at the module release tag of a git clone, writes digests and removes stale ones', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'avm-digests-'));
    try {
      const repo = path.join(dir, 'registry');
      const moduleDir = path.join(repo, 'avm', 'res', 'demo', 'thing');
      mkdirSync(moduleDir, { recursive: true });
      const git = (...args: string[]): string =>
        execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
          encoding: 'utf8',
        });
      git('init', '-q');
      writeFileSync(path.join(moduleDir, 'main.json'), JSON.stringify(template('tagged')));
      git('add', '.');
      git('commit', '-qm', 'release');
      git('tag', 'avm/res/demo/thing/1.2.3');
      writeFileSync(path.join(moduleDir, 'main.json'), JSON.stringify(template('later'))); // after the tag
      git('commit', '-qam', 'later');

      const infra = path.join(dir, 'infra');
      const digests = path.join(infra, 'avm');
      mkdirSync(digests, { recursive: true });
      writeFileSync(
        path.join(infra, 'main.bicep'),
        "module t 'br/public:avm/res/demo/thing:1.2.3' = {\n  name: 't'\n  params: { name: 'x' }\n}\n",
      );
      writeFileSync(path.join(digests, 'res.demo.thing@1.0.0.json'), '{}');

      const result = await refresh({ repo, infraDir: infra, digestDir: digests, log: () => undefined });
      expect(result).toEqual({
        written: ['res.demo.thing@1.2.3.json'],
        removed: ['res.demo.thing@1.0.0.json'],
      });
      const written = readDigest('avm/res/demo/thing', '1.2.3', digests)!;
      expect(Object.keys(written.outputs)).toEqual(['resourceId', 'tagged']);
      expect(written.source).toMatch(
        /^Azure\/bicep-registry-modules tag avm\/res\/demo\/thing\/1\.2\.3 \([0-9a-f]{40}\)/,
      );
      expect(() => fromGit(repo, 'avm/res/demo/thing', '9.9.9')).toThrow(
        /tag avm\/res\/demo\/thing\/9\.9\.9 not found/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Needs a clone of Azure/bicep-registry-modules: AVM_REPO=<its git dir> npx jest test/infra/avm.test.ts
  (process.env.AVM_REPO ? it : it.skip)('the committed digests are what the pinned tags produce', () => {
    for (const name of readdirSync(DIGEST_DIR).filter((f) => f.endsWith('.json'))) {
      const committed = JSON.parse(readFileSync(path.join(DIGEST_DIR, name), 'utf8')) as AvmDigest;
      const { template: t, source } = fromGit(process.env.AVM_REPO!, committed.module, committed.version);
      expect(digest(t, { module: committed.module, version: committed.version, source })).toEqual(committed);
    }
  });
});
