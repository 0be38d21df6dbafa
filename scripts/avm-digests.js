// @ts-check
'use strict';

/**
 * Regenerates infra/avm/*.json: for every `br/public:avm/...:<version>` module in infra/**\/*.bicep, a digest of
 * that version's parameters and outputs, read from the module's compiled main.json. test/infra/avm.test.ts checks
 * each module call against its digest, because no Bicep compiler runs in `npm test`.
 *
 *   npm run avm:refresh -- --repo <git dir of a clone of Azure/bicep-registry-modules>   (or AVM_REPO=<dir>)
 *   npm run avm:refresh                      without a clone: from mcr.microsoft.com (the br/public registry)
 *
 * The clone needs its tags (`avm/res/<group>/<name>/<version>`); a bare or a normal clone both work.
 * Digests no longer referenced are removed. Types: avm-digests.d.ts.
 */

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const INFRA_DIR = path.join(ROOT, 'infra');
const DIGEST_DIR = path.join(INFRA_DIR, 'avm');

/** `br/public:` is Bicep's built-in alias for `br:mcr.microsoft.com/bicep/`. */
const REFERENCE = /['"]br\/public:(avm\/[a-z0-9-]+(?:\/[a-z0-9-]+)+):(\d+\.\d+\.\d+)['"]/g;
const REGISTRY = 'https://mcr.microsoft.com/v2/bicep/';
/** Bicep's module layer (Azure/bicep src/Bicep.Core/Registry/Oci/BicepMediaTypes.cs): the compiled main.json. */
const MODULE_LAYER = 'application/vnd.ms.bicep.module.layer.v1+json';

/** @param {string} dir @returns {string[]} */
function bicepFiles(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? bicepFiles(path.join(dir, e.name))
        : e.name.endsWith('.bicep')
          ? [path.join(dir, e.name)]
          : [],
    )
    .sort();
}

/**
 * Every AVM module and version referenced under a directory, once each, sorted.
 * @param {string} [dir]
 * @returns {{ module: string, version: string }[]}
 */
function references(dir = INFRA_DIR) {
  const found = new Map();
  for (const file of bicepFiles(dir)) {
    for (const m of fs.readFileSync(file, 'utf8').matchAll(REFERENCE)) {
      found.set(`${m[1]}@${m[2]}`, { module: m[1], version: m[2] });
    }
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, ref]) => ref);
}

/**
 * `avm/res/web/site` 0.22.0 -> `res.web.site@0.22.0.json`.
 * @param {string} module @param {string} version
 */
function digestFileName(module, version) {
  return `${module
    .replace(/^avm\//, '')
    .split('/')
    .join('.')}@${version}.json`;
}

/**
 * A parameter's or output's type with `$ref`s to `definitions` followed (nullable can sit on either side).
 * @param {any} schema @param {Record<string, any>} definitions @returns {any}
 */
function resolve(schema, definitions) {
  let current = schema;
  let nullable = Boolean(schema.nullable);
  for (let depth = 0; current && current.$ref && depth < 20; depth++) {
    const name = String(current.$ref).replace(/^#\/definitions\//, '');
    const target = definitions[name];
    if (!target) throw new Error(`unknown type reference ${current.$ref}`);
    nullable ||= Boolean(target.nullable);
    current = { ...target, ...Object.fromEntries(Object.entries(current).filter(([k]) => k !== '$ref')) };
  }
  return { ...current, nullable };
}

/**
 * Property names of an object type, only when they are the complete list (no additionalProperties, no
 * discriminator), so the test may reject any other name.
 * @param {any} type @returns {string[] | undefined}
 */
function closedProperties(type) {
  if (type.type !== 'object' || !type.properties || type.discriminator) return undefined;
  if (type.additionalProperties !== undefined && type.additionalProperties !== false) return undefined;
  return Object.keys(type.properties).sort();
}

/**
 * Closed property lists one level below a typed object: `key` for a property that is a typed object, `key[]` for
 * one that is an array of typed objects (e.g. diagnosticSettings' `logCategoriesAndGroups[]`).
 * @param {any} type @param {Record<string, any>} definitions @returns {Record<string, string[]> | undefined}
 */
function nestedProperties(type, definitions) {
  /** @type {Record<string, string[]>} */
  const nested = {};
  for (const [key, schema] of Object.entries(type.properties ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const child = resolve(schema, definitions);
    const own = closedProperties(child);
    if (own) nested[key] = own;
    if (child.type === 'array' && child.items) {
      const items = closedProperties(resolve(child.items, definitions));
      if (items) nested[`${key}[]`] = items;
    }
  }
  return Object.keys(nested).length > 0 ? nested : undefined;
}

/**
 * The digest of one compiled module: parameters (type, required, allowed values, property names of typed objects
 * or of the items of typed arrays, and one level further down) and outputs (type).
 * @param {any} template main.json
 * @param {{ module: string, version: string, source: string }} info
 */
function digest(template, { module, version, source }) {
  const definitions = template.definitions ?? {};
  const sorted = (/** @type {Record<string, any>} */ o) =>
    Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  /** @type {Record<string, any>} */
  const parameters = {};
  for (const [name, schema] of sorted(template.parameters)) {
    const type = resolve(schema, definitions);
    /** @type {Record<string, any>} */
    const entry = {
      type: type.type,
      required: !('defaultValue' in schema) && !('defaultValue' in type) && !type.nullable,
    };
    if (type.allowedValues) entry.allowed = type.allowedValues;
    const properties = closedProperties(type);
    if (properties) {
      entry.properties = properties;
      const nested = nestedProperties(type, definitions);
      if (nested) entry.nested = nested;
    }
    if (type.type === 'array' && type.items) {
      const itemType = resolve(type.items, definitions);
      const items = closedProperties(itemType);
      if (items) {
        entry.itemProperties = items;
        const nested = nestedProperties(itemType, definitions);
        if (nested) entry.nested = nested;
      }
    }
    parameters[name] = entry;
  }
  /** @type {Record<string, any>} */
  const outputs = {};
  for (const [name, schema] of sorted(template.outputs)) {
    outputs[name] = { type: resolve(schema, definitions).type };
  }
  const generator = template.metadata?._generator ?? {};
  return {
    module,
    version,
    source,
    bicepGenerator: generator.version,
    templateHash: generator.templateHash,
    parameters,
    outputs,
  };
}

/**
 * main.json at the module's release tag of a bicep-registry-modules clone.
 * @param {string} repo @param {string} module @param {string} version
 */
function fromGit(repo, module, version) {
  const tag = `${module}/${version}`;
  const git = (/** @type {string[]} */ ...args) =>
    execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: 'pipe' });
  let commit;
  try {
    commit = git('rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`).trim();
  } catch {
    throw new Error(`tag ${tag} not found in ${repo} (git fetch --tags?)`);
  }
  const template = JSON.parse(git('show', `${commit}:${module}/main.json`));
  return { template, source: `Azure/bicep-registry-modules tag ${tag} (${commit}), ${module}/main.json` };
}

/**
 * main.json from the public registry: the OCI manifest of `bicep/<module>:<version>` and its module layer.
 * @param {string} module @param {string} version
 */
async function fromRegistry(module, version) {
  const get = async (/** @type {string} */ url, /** @type {string} */ accept) => {
    const response = await globalThis.fetch(url, { headers: { accept } }); // Node 18+
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  };
  const manifest = await get(
    `${REGISTRY}${module}/manifests/${version}`,
    'application/vnd.oci.image.manifest.v1+json',
  );
  const layer = (manifest.layers ?? []).find((/** @type {any} */ l) => l.mediaType === MODULE_LAYER);
  if (!layer) throw new Error(`${module}:${version}: no ${MODULE_LAYER} layer in the manifest`);
  const template = await get(`${REGISTRY}${module}/blobs/${layer.digest}`, 'application/json');
  return { template, source: `mcr.microsoft.com/bicep/${module}:${version} (layer ${layer.digest})` };
}

/**
 * One line per parameter and output, so a version bump reads as a short diff.
 * @param {Record<string, any>} value
 */
function serialize(value) {
  const lines = Object.entries(value).map(([key, v]) => {
    if (key !== 'parameters' && key !== 'outputs') return `  ${JSON.stringify(key)}: ${JSON.stringify(v)}`;
    const entries = Object.entries(v).map(([name, e]) => `    ${JSON.stringify(name)}: ${JSON.stringify(e)}`);
    return `  ${JSON.stringify(key)}: {\n${entries.join(',\n')}\n  }`;
  });
  return `{\n${lines.join(',\n')}\n}\n`;
}

/** Written with the repository's Prettier settings when Prettier is installed, so `npm run lint` stays clean. */
async function format(/** @type {string} */ file, /** @type {string} */ json) {
  try {
    const prettier = require('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(json, { ...options, filepath: file });
  } catch {
    return json;
  }
}

/**
 * Writes the digest of every referenced module and removes digests nothing references.
 * @param {{ repo?: string, infraDir?: string, digestDir?: string, log?: (line: string) => void }} [options]
 * @returns {Promise<{ written: string[], removed: string[] }>}
 */
async function refresh({ repo, infraDir = INFRA_DIR, digestDir = DIGEST_DIR, log = console.log } = {}) {
  fs.mkdirSync(digestDir, { recursive: true });
  const wanted = new Set();
  const written = [];
  for (const { module, version } of references(infraDir)) {
    const name = digestFileName(module, version);
    wanted.add(name);
    const { template, source } = repo ? fromGit(repo, module, version) : await fromRegistry(module, version);
    const file = path.join(digestDir, name);
    const text = await format(file, serialize(digest(template, { module, version, source })));
    fs.writeFileSync(file, text);
    written.push(name);
    log(`${path.relative(ROOT, file)}  <- ${source}`);
  }
  const removed = fs.readdirSync(digestDir).filter((f) => f.endsWith('.json') && !wanted.has(f));
  for (const name of removed) {
    fs.rmSync(path.join(digestDir, name));
    log(`removed ${path.relative(ROOT, path.join(digestDir, name))} (no longer referenced)`);
  }
  return { written, removed };
}

/** @param {string[]} argv */
function repoArgument(argv) {
  const i = argv.indexOf('--repo');
  if (i >= 0) return argv[i + 1];
  return process.env.AVM_REPO || undefined;
}

module.exports = { references, digestFileName, digest, fromGit, fromRegistry, refresh, DIGEST_DIR };

if (require.main === module) {
  refresh({ repo: repoArgument(process.argv.slice(2)) }).catch((error) => {
    console.error(`avm-digests: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
