-- name: payment-searches
-- finds: Mailbox and SharePoint searches for payment terms (invoice, payment, wire, bank, IBAN, SWIFT, remittance, routing number), typical of business-email compromise before a payment fraud. Needs search auditing (SearchQueryInitiatedExchange / SearchQueryInitiatedSharePoint), which is off by default in Microsoft 365.
-- fields: Operation, CreationTime, QueryText, user, clientIp
-- params: @from @to
-- scope: tenant
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.QueryText
FROM c
WHERE c.Operation IN ('SearchQueryInitiatedExchange', 'SearchQueryInitiatedSharePoint')
  AND (CONTAINS(LOWER(c.QueryText), 'invoice')
    OR CONTAINS(LOWER(c.QueryText), 'payment')
    OR CONTAINS(LOWER(c.QueryText), 'wire')
    OR CONTAINS(LOWER(c.QueryText), 'bank')
    OR CONTAINS(LOWER(c.QueryText), 'iban')
    OR CONTAINS(LOWER(c.QueryText), 'swift')
    OR CONTAINS(LOWER(c.QueryText), 'remittance')
    OR CONTAINS(LOWER(c.QueryText), 'routing'))
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
