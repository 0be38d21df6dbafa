/**
 * Syntax and semantic checks of KQL with Microsoft's own parser (Kusto.Language, compiled to JavaScript
 * in @kusto/language-service-next), against the Application Insights columns the queries read. The
 * evaluator in kql.ts runs a subset; this proves each query is valid KQL for the real service.
 */

// Bridge.NET defines its runtime and the Kusto namespace on the global object when loaded.
import '@kusto/language-service-next/bridge.min.js';
import '@kusto/language-service-next/Kusto.Language.Bridge.min.js';

/** The part of the Bridge.NET-compiled API used here (the package's .d.ts declares a global namespace). */
interface KustoList<T> {
  Count: number;
  getItem(index: number): T;
}
interface KustoDiagnostic {
  Severity: string;
  Code: string;
  Message: string;
  Start: number;
}
interface KustoLanguage {
  Symbols: {
    TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
    DatabaseSymbol: { $ctor1: new (name: string, members: unknown[], isOpen: boolean) => unknown };
  };
  GlobalState: { Default: { WithDatabase(db: unknown): unknown } };
  KustoCode: {
    ParseAndAnalyze(text: string, globals: unknown): { GetDiagnostics(): KustoList<KustoDiagnostic> };
  };
}

/** Application Insights tables (classic names, as log alerts scoped to the component query them). */
export const APP_INSIGHTS_SCHEMA: Record<string, string> = {
  traces:
    '(timestamp:datetime, message:string, severityLevel:int, customDimensions:dynamic, operation_Name:string, ' +
    'operation_Id:string, cloud_RoleName:string, cloud_RoleInstance:string)',
  requests:
    '(timestamp:datetime, id:string, name:string, success:bool, resultCode:string, duration:real, ' +
    'operation_Name:string, operation_Id:string, customDimensions:dynamic, cloud_RoleName:string)',
};

let globals: unknown;

function load(): { kusto: KustoLanguage; globals: unknown } {
  const kusto = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
  if (globals === undefined) {
    const tables = Object.entries(APP_INSIGHTS_SCHEMA).map(
      ([name, schema]) => new kusto.Symbols.TableSymbol.$ctor7(name, schema, null),
    );
    globals = kusto.GlobalState.Default.WithDatabase(
      new kusto.Symbols.DatabaseSymbol.$ctor1('appinsights', tables, false),
    );
  }
  return { kusto, globals };
}

/** Errors and warnings Kusto.Language reports for a query, as `severity code message @offset`. */
export function kqlDiagnostics(query: string): string[] {
  const { kusto, globals: g } = load();
  const list = kusto.KustoCode.ParseAndAnalyze(query, g).GetDiagnostics();
  const out: string[] = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    out.push(`${d.Severity} ${d.Code} ${d.Message} @${d.Start}`);
  }
  return out;
}
