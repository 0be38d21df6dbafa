-- name: mail-items-accessed
-- finds: One account's MailItemsAccessed records (Bind = items opened, Sync = folders synchronised, as mail clients and bulk exfiltration do), with IP and item count. The runner reports hours with at least `mailBurstItems` items accessed, per IP.
-- fields: user, Operation, CreationTime, clientIp, mailAccessType, OperationCount
-- params: @user @from @to
-- scope: user
-- stand-in: the Cosmos DB form sums per hour and IP with GROUP BY, which the local stand-in cannot parse; the runner runs the row form and sums client-side.
-- cosmos:
SELECT SUBSTRING(c.CreationTime, 0, 13) AS hour, c.clientIp, c.mailAccessType, SUM(c.OperationCount) AS items,
  COUNT(1) AS records
FROM c
WHERE c.user = @user
  AND c.Operation = 'MailItemsAccessed'
  AND c.CreationTime >= @from AND c.CreationTime < @to
GROUP BY SUBSTRING(c.CreationTime, 0, 13), c.clientIp, c.mailAccessType
-- runner:
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.mailAccessType, c.OperationCount
FROM c
WHERE c.user = @user
  AND c.Operation = 'MailItemsAccessed'
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
