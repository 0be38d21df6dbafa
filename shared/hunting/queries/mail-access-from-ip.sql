-- name: mail-access-from-ip
-- finds: Pivot on one client IP: every mailbox read from it (MailItemsAccessed), whoever owns the mailbox, with the application that read it (AppId, ClientAppId). From an attacker's IP this finds the other mailboxes the attacker reads, e.g. through an app a second victim consented to.
-- fields: Operation, clientIp, CreationTime, user, AppId, ClientAppId, mailAccessType, OperationCount
-- params: @ip @from @to
-- scope: tenant
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.AppId, c.ClientAppId, c.mailAccessType,
  c.OperationCount
FROM c
WHERE c.Operation = 'MailItemsAccessed'
  AND c.clientIp = @ip
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
