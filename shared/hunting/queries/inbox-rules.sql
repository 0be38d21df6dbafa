-- name: inbox-rules
-- finds: Inbox rules created, changed or enabled (New-/Set-/Enable-InboxRule, and UpdateInboxRules from Outlook), with where they forward or redirect mail. The runner normalises the addresses (drops `smtp:` prefixes, lower case) and tells internal from external domains, and flags rules that delete, move or mark mail as read.
-- fields: Operation, CreationTime, user, clientIp, inboxRuleName, forwardTo, redirectTo, forwardAsAttachmentTo, ObjectId, Parameters
-- params: @from @to
-- scope: tenant
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.inboxRuleName, c.forwardTo, c.redirectTo,
  c.forwardAsAttachmentTo, c.ObjectId, c.Parameters
FROM c
WHERE c.Operation IN ('New-InboxRule', 'Set-InboxRule', 'Enable-InboxRule', 'UpdateInboxRules')
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
