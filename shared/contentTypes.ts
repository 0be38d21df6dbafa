/** The five Management Activity API content types, spelled exactly as the service spells them. */
export const CONTENT_TYPES = [
  'Audit.AzureActiveDirectory',
  'Audit.Exchange',
  'Audit.SharePoint',
  'Audit.General',
  'DLP.All',
] as const;

export type ContentType = (typeof CONTENT_TYPES)[number];

export function isContentType(value: string): value is ContentType {
  return (CONTENT_TYPES as readonly string[]).includes(value);
}

/** One audit record as the service returns it inside a content blob. Shapes vary by workload. */
export type AuditRecord = Record<string, unknown>;

/** One item of a `subscriptions/content` listing. */
export interface ContentBlobRef {
  contentType: ContentType;
  contentId: string;
  contentUri: string;
  contentCreated: string;
  contentExpiration: string;
}
