/**
 * Reads the service's name/value lists (`Parameters`, `ExtendedProperties`, `OperationProperties`,
 * `DeviceProperties`) in every shape seen in real records: a list of `{Name, Value}`, that list as JSON
 * text, or one PowerShell-style string (`-Name "value" -Other (a,b)`). Names are matched case-insensitively;
 * the first occurrence wins. Values come back as strings.
 */
export function nameValues(value: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const list = asList(value);
  if (list) {
    for (const item of list) {
      if (typeof item !== 'object' || item === null) continue;
      const { Name: name, Value: raw } = item as { Name?: unknown; Value?: unknown };
      const text = scalarText(raw);
      if (typeof name === 'string' && text !== undefined) setOnce(out, name, text);
    }
    return out;
  }
  if (typeof value === 'string') parsePowerShellParameters(value, out);
  return out;
}

function asList(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value as unknown[];
  if (typeof value === 'string' && value.trimStart().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed as unknown[];
    } catch {
      // Not JSON after all: fall through to the PowerShell reading.
    }
  }
  return undefined;
}

/** A scalar as text: strings as they are, numbers and booleans spelled out; objects and arrays are not scalars. */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return undefined;
}

function setOnce(map: Map<string, string>, name: string, value: string): void {
  const key = name.toLowerCase();
  if (!map.has(key)) map.set(key, value);
}

/**
 * `-Name "value"`, `-Name 'value'`, `-Name (a,b)`, `-Name value`, `-Switch` (→ "True"), as Exchange
 * writes cmdlet parameters when it flattens them into one string.
 */
function parsePowerShellParameters(text: string, out: Map<string, string>): void {
  let i = 0;
  const n = text.length;
  while (i < n) {
    // A parameter starts with '-' at the start or after whitespace.
    if (text[i] !== '-' || (i > 0 && !/\s/.test(text[i - 1] ?? ''))) {
      i++;
      continue;
    }
    const nameMatch = /^-([A-Za-z][\w-]*):?/.exec(text.slice(i));
    if (!nameMatch) {
      i++;
      continue;
    }
    const name = nameMatch[1] ?? '';
    i += nameMatch[0].length;
    while (i < n && /\s/.test(text[i] ?? '')) i++;
    const open = text[i];
    let value: string;
    if (i >= n || (open === '-' && /[A-Za-z]/.test(text[i + 1] ?? ''))) {
      value = 'True';
    } else if (open === '"' || open === "'") {
      [value, i] = quoted(text, i, open);
    } else if (open === '(') {
      const end = text.indexOf(')', i + 1);
      const stop = end === -1 ? n : end;
      value = text.slice(i + 1, stop);
      i = stop + 1;
    } else {
      let stop = i;
      while (stop < n && !/\s/.test(text[stop] ?? '')) stop++;
      value = text.slice(i, stop);
      i = stop;
    }
    setOnce(out, name, value);
  }
}

/** A quoted PowerShell string starting at `start`; a doubled quote stands for one quote character. */
function quoted(text: string, start: number, quote: string): [string, number] {
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === quote) {
      if (text[i + 1] === quote) {
        value += quote;
        i += 2;
        continue;
      }
      return [value, i + 1];
    }
    value += c;
    i++;
  }
  return [value, i];
}
