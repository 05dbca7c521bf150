"""Stage 3: the classification policy, as data (policy.catalog, policy.accounts) plus small pure functions."""

from pgaudit_monitor.policy.accounts import BUILTIN_SERVICE_ACCOUNTS, UNKNOWN_USER, ServiceAccounts
from pgaudit_monitor.policy.session import Session
from pgaudit_monitor.policy.sql import Access, ParsedStatement, Relation, SqlAnalyzer
from pgaudit_monitor.policy.verdict import APP_DML, AUDIT_TAMPER, SENSITIVE_CATALOG, Judge, Policy, Verdict

__all__ = [
    "APP_DML",
    "AUDIT_TAMPER",
    "BUILTIN_SERVICE_ACCOUNTS",
    "SENSITIVE_CATALOG",
    "UNKNOWN_USER",
    "Access",
    "Judge",
    "ParsedStatement",
    "Policy",
    "Relation",
    "ServiceAccounts",
    "Session",
    "SqlAnalyzer",
    "Verdict",
]
