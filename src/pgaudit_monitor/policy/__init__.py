"""Stage 3: the classification policy, as data (policy.catalog, policy.accounts) plus small pure functions."""

from pgaudit_monitor.policy.accounts import BUILTIN_SERVICE_ACCOUNTS, UNKNOWN_USER, ServiceAccounts
from pgaudit_monitor.policy.sql import Access, ParsedStatement, Relation, SqlAnalyzer
from pgaudit_monitor.policy.verdict import APP_DML, SENSITIVE_CATALOG, Judge, Policy, Verdict

__all__ = [
    "APP_DML",
    "BUILTIN_SERVICE_ACCOUNTS",
    "SENSITIVE_CATALOG",
    "UNKNOWN_USER",
    "Access",
    "Judge",
    "ParsedStatement",
    "Policy",
    "Relation",
    "ServiceAccounts",
    "SqlAnalyzer",
    "Verdict",
]
