-- name: mail-sent
-- finds: Mail one account sent (Send, SendAs, SendOnBehalf) with the client IP and subject. Mail sent from an attacker's address is the internal phishing that follows a mailbox takeover; the runner shows it when it came from an IP the account's other findings tie to the attacker.
-- fields: user, Operation, CreationTime, clientIp, Item
-- params: @user @from @to
-- scope: user
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.Item.Subject AS subject
FROM c
WHERE c.user = @user
  AND c.Operation IN ('Send', 'SendAs', 'SendOnBehalf')
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
