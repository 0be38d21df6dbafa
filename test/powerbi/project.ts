import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Reads the Power BI project in `powerbi/` for the tests: a small reader of the TMDL this project writes
 * (tables, columns, measures, partitions, shared expressions, relationships), not a general TMDL parser.
 */

export const PROJECT_DIR = join(__dirname, '..', '..', 'powerbi');
export const MODEL_DIR = join(PROJECT_DIR, 'auditfeed.SemanticModel');
export const REPORT_DIR = join(PROJECT_DIR, 'auditfeed.Report');
export const TMDL_DIR = join(MODEL_DIR, 'definition');

export interface TmdlColumn {
  name: string;
  dataType: string | undefined;
  sourceColumn: string | undefined;
}

export interface TmdlPartition {
  name: string;
  kind: string;
  mode: string | undefined;
  /** The Power Query (M) of `source =`. */
  source: string;
}

export interface TmdlTable {
  name: string;
  file: string;
  columns: TmdlColumn[];
  measures: { name: string; expression: string }[];
  partitions: TmdlPartition[];
}

export interface TmdlExpression {
  name: string;
  /** Power Query (M): the single-line value or the indented block after `=`. */
  m: string;
}

export interface TmdlRelationship {
  name: string;
  fromTable: string;
  fromColumn: string;
  toTable: string;
  toColumn: string;
}

export interface SemanticModel {
  tables: TmdlTable[];
  expressions: TmdlExpression[];
  relationships: TmdlRelationship[];
}

/** Every file under `dir`, relative to it, with `/` separators. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(dir, path).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** `'Sign-ins'` → `Sign-ins`; `Records` → `Records`. */
export function unquote(name: string): string {
  const n = name.trim();
  return n.startsWith("'") && n.endsWith("'") && n.length >= 2 ? n.slice(1, -1).replace(/''/g, "'") : n;
}

interface Line {
  depth: number;
  text: string;
}

function linesOf(text: string): Line[] {
  return text.split(/\r?\n/).map((raw) => {
    const depth = /^\t*/.exec(raw)![0].length;
    return { depth, text: raw.slice(depth) };
  });
}

/**
 * The indented block that follows a line ending in `=` at `depth`: lines indented at least two levels
 * deeper, up to the first non-blank line that is not; returns the block with that indentation removed.
 */
function blockAfter(lines: Line[], index: number, depth: number): { text: string; next: number } {
  const body: string[] = [];
  let i = index + 1;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.text.trim() !== '' && line.depth < depth + 2) break;
    body.push(line.text.trim() === '' ? '' : '\t'.repeat(line.depth - depth - 2) + line.text);
  }
  while (body.length > 0 && body[body.length - 1] === '') body.pop();
  return { text: body.join('\n'), next: i };
}

const NAME = `('(?:[^']|'')+'|[^\\s=']+)`;
const DECLARATION = new RegExp(
  `^(table|column|measure|partition|expression|relationship) ${NAME}(?:\\s*=\\s*(.*))?$`,
);
const PROPERTY = /^(\w+)\s*:\s*(.*)$/;

function columnRef(value: string): { table: string; column: string } {
  const m = new RegExp(`^${NAME}\\.${NAME}$`).exec(value.trim());
  if (!m) throw new Error(`not a column reference: ${value}`);
  return { table: unquote(m[1]!), column: unquote(m[2]!) };
}

export function parseTmdl(text: string, file: string, model: SemanticModel): void {
  const lines = linesOf(text);
  let table: TmdlTable | undefined;
  let column: TmdlColumn | undefined;
  let partition: TmdlPartition | undefined;
  let relationship: Partial<TmdlRelationship> & { name: string } = { name: '' };
  const finishRelationship = (): void => {
    if (relationship.name === '') return;
    const { name, fromTable, fromColumn, toTable, toColumn } = relationship;
    if (!fromTable || !fromColumn || !toTable || !toColumn)
      throw new Error(`${file}: relationship ${name} lacks ends`);
    model.relationships.push({ name, fromTable, fromColumn, toTable, toColumn });
    relationship = { name: '' };
  };
  for (let i = 0; i < lines.length; i++) {
    const { depth, text: t } = lines[i]!;
    if (t.trim() === '' || t.startsWith('///')) continue;
    const declaration = DECLARATION.exec(t);
    if (declaration) {
      const [, kind, rawName, rest] = declaration;
      const name = unquote(rawName!);
      column = undefined;
      partition = undefined;
      if (kind === 'table') {
        finishRelationship();
        table = { name, file, columns: [], measures: [], partitions: [] };
        model.tables.push(table);
      } else if (kind === 'column') {
        column = { name, dataType: undefined, sourceColumn: undefined };
        table!.columns.push(column);
      } else if (kind === 'measure') {
        table!.measures.push({ name, expression: rest ?? '' });
      } else if (kind === 'partition') {
        partition = { name, kind: (rest ?? '').trim(), mode: undefined, source: '' };
        table!.partitions.push(partition);
      } else if (kind === 'expression') {
        if (rest === undefined || rest.trim() === '') {
          const block = blockAfter(lines, i, depth);
          model.expressions.push({ name, m: block.text });
          i = block.next - 1;
        } else {
          model.expressions.push({ name, m: rest });
        }
      } else {
        finishRelationship();
        relationship = { name };
      }
      continue;
    }
    const property = PROPERTY.exec(t);
    if (property) {
      const [, key, value] = property;
      if (column && key === 'dataType') column.dataType = value!.trim();
      if (column && key === 'sourceColumn') column.sourceColumn = unquote(value!);
      if (partition && key === 'mode') partition.mode = value!.trim();
      if (relationship.name !== '' && (key === 'fromColumn' || key === 'toColumn')) {
        const ref = columnRef(value!);
        if (key === 'fromColumn') [relationship.fromTable, relationship.fromColumn] = [ref.table, ref.column];
        else [relationship.toTable, relationship.toColumn] = [ref.table, ref.column];
      }
      continue;
    }
    if (partition && /^source\s*=\s*$/.test(t)) {
      const block = blockAfter(lines, i, depth);
      partition.source = block.text;
      i = block.next - 1;
    }
  }
  finishRelationship();
}

export function loadModel(): SemanticModel {
  const model: SemanticModel = { tables: [], expressions: [], relationships: [] };
  for (const file of filesUnder(TMDL_DIR).filter((f) => f.endsWith('.tmdl'))) {
    parseTmdl(readFileSync(join(TMDL_DIR, file), 'utf8'), file, model);
  }
  return model;
}

export function tableOf(model: SemanticModel, name: string): TmdlTable {
  const table = model.tables.find((t) => t.name === name);
  if (!table) throw new Error(`no table ${name}`);
  return table;
}

export function expressionOf(model: SemanticModel, name: string): TmdlExpression {
  const expression = model.expressions.find((e) => e.name === name);
  if (!expression) throw new Error(`no expression ${name}`);
  return expression;
}

/** Every M expression of the model: partitions' sources and shared expressions, with where they come from. */
export function mExpressions(model: SemanticModel): { where: string; m: string }[] {
  return [
    ...model.tables.flatMap((t) =>
      t.partitions.map((p) => ({ where: `${t.file}: partition ${p.name}`, m: p.source })),
    ),
    ...model.expressions.map((e) => ({ where: `expressions.tmdl: expression ${e.name}`, m: e.m })),
  ];
}

export interface SourceField {
  /** Column of the model's Records table. */
  column: string;
  /** Document field it is read from (the mirror's column, matched ignoring case). */
  field: string;
  /** The M type: `type text`, `Int64.Type`, ... */
  type: string;
}

/** The `Fields` list of the AuditRecords expression: what the model reads from the mirrored container. */
export function sourceFields(model: SemanticModel): SourceField[] {
  const m = expressionOf(model, 'AuditRecords').m;
  const list = /Fields = \{([\s\S]*?)\n\s*\},/.exec(m);
  if (!list) throw new Error('AuditRecords has no Fields list');
  return [...list[1]!.matchAll(/\{"([^"]+)", "([^"]+)", ([^}]+)\}/g)].map((f) => ({
    column: f[1]!,
    field: f[2]!,
    type: f[3]!.trim(),
  }));
}
