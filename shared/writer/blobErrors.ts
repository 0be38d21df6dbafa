/** HTTP status of a storage SDK error (RestError), if any. */
export function storageStatus(e: unknown): number | undefined {
  const status = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
