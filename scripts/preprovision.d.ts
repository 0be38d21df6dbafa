// Types of preprovision.js, which stays plain JavaScript so the azd hook needs no build.

export const AZURE_CLOUDS: Readonly<Record<string, string>>;
export function settingProblems(env: Record<string, string | undefined>): string[];
export function budgetStartDate(
  env: Record<string, string | undefined>,
  now: Date,
): { set?: string; problem?: string };
export function azdCloud(where: { root: string; envName?: string; userCloud: () => string | undefined }): {
  name: string;
  source: string;
};
export function cloudProblem(m365Cloud: string, azure: { name: string; source: string }): string | undefined;
export function monthStart(now: Date): string;
