import { readFileSync } from 'node:fs';
import path from 'node:path';
import { INFRA_DIR } from './bicep';

/** An item of infra/app/workbook.json (only the fields the tests read). */
export interface WorkbookItem {
  type: number;
  name: string;
  content: {
    version?: string;
    query?: string;
    title?: string;
    resourceType?: string;
    resourceIds?: string[];
    timeContextFromParameter?: string;
    metrics?: { namespace: string; metric: string; aggregation: number; splitBy?: string | string[] }[];
  };
}

export interface Workbook {
  version: string;
  items: WorkbookItem[];
  fallbackResourceIds?: string[];
}

export const WORKBOOK_FILE = path.join(INFRA_DIR, 'app', 'workbook.json');

export function loadWorkbook(): Workbook {
  return JSON.parse(readFileSync(WORKBOOK_FILE, 'utf8')) as Workbook;
}

/** Log-query items (type 3) by name. */
export function workbookQueries(workbook = loadWorkbook()): Map<string, string> {
  return new Map(
    workbook.items.filter((i) => i.type === 3 && i.content.query).map((i) => [i.name, i.content.query!]),
  );
}
