import path from 'node:path';
import { runKql, type Row, type Tables } from '../helpers/kql';
import { INFRA_DIR, declarations, loadBicep, propertyPath, variable } from './bicep';
import { evaluateBicep, type BicepValue } from './bicepEval';

/** One scheduled-query rule of infra/app/alerts.bicep as Azure Monitor receives it. */
export interface AlertRule {
  name: string;
  displayName: string;
  /** The alertDescription the module deploys (the runbook link included). */
  description: string;
  severity: number;
  frequency: string;
  window: string;
  query: string;
  timeAggregation: string;
  operator: 'GreaterThan' | 'LessThan';
  threshold: number;
}

/**
 * The rules with the given params (thresholds and names: the test's input; the others take their
 * defaults), read through the module's own `criterias` and `alertDescription` with each rule bound to the
 * loop variable, so what is tested is what is deployed.
 */
export async function loadAlertRules(input: Record<string, BicepValue>): Promise<AlertRule[]> {
  const file = await loadBicep(path.join(INFRA_DIR, 'app', 'alerts.bicep'));
  const scope = { root: file.root, params: input };
  const rules = evaluateBicep(variable(file.root, 'rules')!, scope) as Record<string, BicepValue>[];
  const loop = file.root
    .descendantsOfType('module_declaration')
    .find((m) => m.namedChildren[0]?.text === 'alertRules')
    ?.descendantsOfType('for_statement')[0];
  const loopVariable = loop?.childForFieldName('initializer')?.text ?? 'rule';
  const module = declarations(file.root, 'module_declaration').find((m) => m.name === 'alertRules')!;
  const description = propertyPath(module.body, 'params', 'alertDescription')!;
  const criteria = propertyPath(module.body, 'params', 'criterias')!;
  return rules.map((rule) => {
    const bound = { ...scope, locals: { [loopVariable]: rule } };
    const allOf = (evaluateBicep(criteria, bound) as { allOf: Record<string, BicepValue>[] }).allOf;
    if (allOf.length !== 1) throw new Error(`${JSON.stringify(rule.name)}: one criterion expected`);
    const c = allOf[0]!;
    return {
      name: rule.name as string,
      displayName: rule.displayName as string,
      description: evaluateBicep(description, bound) as string,
      severity: rule.severity as number,
      frequency: rule.frequency as string,
      window: rule.window as string,
      query: c.query as string,
      timeAggregation: c.timeAggregation as string,
      operator: c.operator as AlertRule['operator'],
      threshold: c.threshold as number,
    };
  });
}

export interface Evaluation {
  fired: boolean;
  rows: Row[];
}

/** One evaluation of a rule over a window's rows: Count of result rows against the threshold. */
export function evaluateRule(rule: AlertRule, tables: Tables): Evaluation {
  if (rule.timeAggregation !== 'Count') throw new Error(`${rule.name}: only Count is modelled`);
  const { rows } = runKql(rule.query, tables);
  const n = rows.length;
  switch (rule.operator) {
    case 'GreaterThan':
      return { fired: n > rule.threshold, rows };
    case 'LessThan':
      return { fired: n < rule.threshold, rows };
    default:
      throw new Error(`${rule.name}: operator ${String(rule.operator)} not modelled`);
  }
}

/** Every log alert of infra/app/alerts.bicep, by the name its runbook section has. */
export const RULE_NAMES = [
  'collector-lag',
  'collection-failed',
  'quarantined-blob',
  'sweep-behind',
  'late-content',
  'rejected-record',
  'collector-silent',
  'recorded-gap',
  'poison-message',
  'collection-task-lost',
  'function-failures',
  'queue-backlog',
  'credential-expiry',
] as const;
