-- name: forwarding-to-address
-- finds: Pivot on one forwarding address: every inbox rule or mailbox that forwards or redirects to it, whichever spelling the record uses (`x@y`, `SMTP:x@y`, in a `;`-separated list). Give @address in lower case without `smtp:` (the runner does).
-- fields: forwardTo, redirectTo, forwardAsAttachmentTo, forwardingSmtpAddress, forwardingAddress, CreationTime, user, Operation, clientIp
-- params: @address @from @to
-- scope: tenant
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.ObjectId, c.inboxRuleName, c.forwardTo, c.redirectTo,
  c.forwardAsAttachmentTo, c.forwardingSmtpAddress, c.forwardingAddress
FROM c
WHERE (CONTAINS(LOWER(c.forwardTo), @address)
    OR CONTAINS(LOWER(c.redirectTo), @address)
    OR CONTAINS(LOWER(c.forwardAsAttachmentTo), @address)
    OR CONTAINS(LOWER(c.forwardingSmtpAddress), @address)
    OR CONTAINS(LOWER(c.forwardingAddress), @address))
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
