"""Tables and their schemas. Importing this package registers every table on the metadata."""

from registry.models.access import AccessGrant, AccessGrantPublic
from registry.models.account import Account, AccountPublic, AccountRename, AccountRenamePublic
from registry.models.audit import AuditEvent, AuditEventPublic, AuditHead
from registry.models.base import AccountStatus, Category, PersonStatus, Role, utcnow
from registry.models.credential import (
    Credential,
    CredentialKind,
    CredentialStatus,
    RevealedCredential,
    TotpPublic,
)
from registry.models.department import Department, DepartmentBase, DepartmentPublic
from registry.models.handover import (
    DueCredential,
    Handover,
    HandoverAccount,
    HandoverCreate,
    HandoverReport,
    MovedRequest,
)
from registry.models.identity import PersonIdentity, SsoLogin
from registry.models.meta import RegistryMeta
from registry.models.outbox import OutboxMessage, OutboxMessagePublic
from registry.models.person import Person, PersonCreate, PersonPublic, PersonRole, PersonUpdate
from registry.models.request import (
    OPEN_STATES,
    AccountRequest,
    Decision,
    DecommissionRequest,
    NewAccountRequest,
    RequestHolder,
    RequestKind,
    RequestPublic,
    RequestState,
)
from registry.models.token import ApiToken, TokenCreated, TokenPublic
from registry.models.web_session import WebSession

__all__ = [
    "OPEN_STATES",
    "AccessGrant",
    "AccessGrantPublic",
    "Account",
    "AccountPublic",
    "AccountRename",
    "AccountRenamePublic",
    "AccountRequest",
    "AccountStatus",
    "ApiToken",
    "AuditEvent",
    "AuditEventPublic",
    "AuditHead",
    "Category",
    "Credential",
    "CredentialKind",
    "CredentialStatus",
    "Decision",
    "DecommissionRequest",
    "Department",
    "DepartmentBase",
    "DepartmentPublic",
    "DueCredential",
    "Handover",
    "HandoverAccount",
    "HandoverCreate",
    "HandoverReport",
    "MovedRequest",
    "NewAccountRequest",
    "OutboxMessage",
    "OutboxMessagePublic",
    "Person",
    "PersonCreate",
    "PersonIdentity",
    "PersonPublic",
    "PersonRole",
    "PersonStatus",
    "PersonUpdate",
    "RegistryMeta",
    "RequestHolder",
    "RequestKind",
    "RequestPublic",
    "RequestState",
    "RevealedCredential",
    "Role",
    "SsoLogin",
    "TokenCreated",
    "TokenPublic",
    "TotpPublic",
    "WebSession",
    "utcnow",
]
