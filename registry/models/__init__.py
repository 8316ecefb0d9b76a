"""Tables and their schemas. Importing this package registers every table on the metadata."""

from registry.models.access import AccessGrant, AccessGrantPublic
from registry.models.account import Account, AccountFields, AccountPublic
from registry.models.audit import AuditEvent, AuditEventPublic
from registry.models.base import AccountStatus, Category, PersonStatus, Role, utcnow
from registry.models.department import Department, DepartmentBase, DepartmentPublic
from registry.models.person import Person, PersonCreate, PersonPublic, PersonRole
from registry.models.token import ApiToken, TokenCreated, TokenPublic

__all__ = [
    "AccessGrant",
    "AccessGrantPublic",
    "Account",
    "AccountFields",
    "AccountPublic",
    "AccountStatus",
    "ApiToken",
    "AuditEvent",
    "AuditEventPublic",
    "Category",
    "Department",
    "DepartmentBase",
    "DepartmentPublic",
    "Person",
    "PersonCreate",
    "PersonPublic",
    "PersonRole",
    "PersonStatus",
    "Role",
    "TokenCreated",
    "TokenPublic",
    "utcnow",
]
