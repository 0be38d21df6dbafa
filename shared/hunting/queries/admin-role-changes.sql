-- name: admin-role-changes
-- finds: Directory and Exchange admin role changes: members added to or removed from Azure AD roles (directly or through PIM) and Exchange role groups. `user` is who did it; ObjectId (and ModifiedProperties Role.DisplayName) say which account and role.
-- fields: Operation, CreationTime, user, clientIp, ObjectId, ModifiedProperties, Parameters
-- params: @from @to
-- scope: tenant
SELECT c.Id, c.CreationTime, c.user, c.Operation, c.clientIp, c.ResultStatus, c.ObjectId, c.ModifiedProperties, c.Parameters
FROM c
WHERE c.Operation IN (
    'Add member to role.',
    'Remove member from role.',
    'Add eligible member to role.',
    'Add member to role in PIM completed (permanent)',
    'Add member to role in PIM completed (timebound)',
    'Add-RoleGroupMember',
    'Remove-RoleGroupMember',
    'New-ManagementRoleAssignment')
  AND c.CreationTime >= @from AND c.CreationTime < @to
ORDER BY c.CreationTime
