-- name: mailbox-forwarding
-- finds: Mailbox-level forwarding set with Set-Mailbox (ForwardingSmtpAddress, usually spelled `smtp:x@y`, or ForwardingAddress), and whether a copy stays in the mailbox. The runner normalises the addresses like inbox-rules so both pivot the same.
-- fields: Operation, CreationTime, forwardingSmtpAddress, forwardingAddress, deliverToMailboxAndForward, user, clientIp, UserType, ObjectId
-- params: @from @to
-- scope: tenant
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.UserType, c.ObjectId, c.forwardingSmtpAddress,
  c.forwardingAddress, c.deliverToMailboxAndForward
FROM c
WHERE c.Operation = 'Set-Mailbox'
  AND (IS_DEFINED(c.forwardingSmtpAddress) OR IS_DEFINED(c.forwardingAddress))
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
