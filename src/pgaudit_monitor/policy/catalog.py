"""What counts as PostgreSQL's own data rather than the application's: data, not logic.

An unqualified name resolves to pg_catalog first (PostgreSQL searches pg_catalog before the search_path unless
told otherwise), so `SELECT * FROM pg_class` reads the catalog; `PG_CATALOG_RELATIONS` lists those names.
It was read from PostgreSQL 15 (`scripts/catalog-relations.sql`) and completed with the names that 13, 14, 16 and
17 add; a name missing here only makes the monitor report a catalog read as application data (fail closed).
"""

from __future__ import annotations

SYSTEM_SCHEMAS: frozenset[str] = frozenset({"pg_catalog", "information_schema"})
"""Schemas whose relations are not application data (information_schema: only what INFORMATION_SCHEMA_RELATIONS
lists). Not pg_toast: its tables hold the application's long values, and only a person reading them by hand names
one."""

SESSION_SCHEMA_PREFIXES: tuple[str, ...] = ("pg_temp", "pg_toast_temp")
"""A session's temporary schemas: what a human puts there is not the application's data."""

DEFAULT_SENSITIVE_CATALOGS: frozenset[str] = frozenset(
    {"pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_statistic"}
)
"""Catalogs holding secrets (password hashes, foreign-server credentials) or sampled row values (pg_statistic)."""

NON_TABLE_OBJECT_TYPES: frozenset[str] = frozenset({"SEQUENCE", "INDEX", "COMPOSITE TYPE", "FUNCTION"})
"""pgAudit object types that hold no application rows."""

PG_CATALOG_RELATIONS: frozenset[str] = frozenset(
    {
        # PostgreSQL 15, read from pg_class (tables and views in pg_catalog)
        "pg_aggregate", "pg_am", "pg_amop", "pg_amproc", "pg_attrdef", "pg_attribute", "pg_auth_members",
        "pg_authid", "pg_available_extension_versions", "pg_available_extensions", "pg_backend_memory_contexts",
        "pg_cast", "pg_class", "pg_collation", "pg_config", "pg_constraint", "pg_conversion", "pg_cursors",
        "pg_database", "pg_db_role_setting", "pg_default_acl", "pg_depend", "pg_description", "pg_enum",
        "pg_event_trigger", "pg_extension", "pg_file_settings", "pg_foreign_data_wrapper", "pg_foreign_server",
        "pg_foreign_table", "pg_group", "pg_hba_file_rules", "pg_ident_file_mappings", "pg_index", "pg_indexes",
        "pg_inherits", "pg_init_privs", "pg_language", "pg_largeobject", "pg_largeobject_metadata", "pg_locks",
        "pg_matviews", "pg_namespace", "pg_opclass", "pg_operator", "pg_opfamily", "pg_parameter_acl",
        "pg_partitioned_table", "pg_policies", "pg_policy", "pg_prepared_statements", "pg_prepared_xacts",
        "pg_proc", "pg_publication", "pg_publication_namespace", "pg_publication_rel", "pg_publication_tables",
        "pg_range", "pg_replication_origin", "pg_replication_origin_status", "pg_replication_slots", "pg_rewrite",
        "pg_roles", "pg_rules", "pg_seclabel", "pg_seclabels", "pg_sequence", "pg_sequences", "pg_settings",
        "pg_shadow", "pg_shdepend", "pg_shdescription", "pg_shmem_allocations", "pg_shseclabel",
        "pg_stat_activity", "pg_stat_all_indexes", "pg_stat_all_tables", "pg_stat_archiver", "pg_stat_bgwriter",
        "pg_stat_database", "pg_stat_database_conflicts", "pg_stat_gssapi", "pg_stat_progress_analyze",
        "pg_stat_progress_basebackup", "pg_stat_progress_cluster", "pg_stat_progress_copy",
        "pg_stat_progress_create_index", "pg_stat_progress_vacuum", "pg_stat_recovery_prefetch",
        "pg_stat_replication", "pg_stat_replication_slots", "pg_stat_slru", "pg_stat_ssl", "pg_stat_subscription",
        "pg_stat_subscription_stats", "pg_stat_sys_indexes", "pg_stat_sys_tables", "pg_stat_user_functions",
        "pg_stat_user_indexes", "pg_stat_user_tables", "pg_stat_wal", "pg_stat_wal_receiver",
        "pg_stat_xact_all_tables", "pg_stat_xact_sys_tables", "pg_stat_xact_user_functions",
        "pg_stat_xact_user_tables", "pg_statio_all_indexes", "pg_statio_all_sequences", "pg_statio_all_tables",
        "pg_statio_sys_indexes", "pg_statio_sys_sequences", "pg_statio_sys_tables", "pg_statio_user_indexes",
        "pg_statio_user_sequences", "pg_statio_user_tables", "pg_statistic", "pg_statistic_ext",
        "pg_statistic_ext_data", "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs", "pg_subscription",
        "pg_subscription_rel", "pg_tables", "pg_tablespace", "pg_timezone_abbrevs", "pg_timezone_names",
        "pg_transform", "pg_trigger", "pg_ts_config", "pg_ts_config_map", "pg_ts_dict", "pg_ts_parser",
        "pg_ts_template", "pg_type", "pg_user", "pg_user_mapping", "pg_user_mappings", "pg_views",
        # PostgreSQL 13 only
        "pg_pltemplate",
        # PostgreSQL 16 and 17
        "pg_stat_io", "pg_stat_checkpointer", "pg_wait_events",
    }
)  # fmt: skip

AUDIT_SETTINGS: frozenset[str] = frozenset(
    {
        # what reaches the log, and at which level (pgAudit writes at LOG unless pgaudit.log_level says otherwise)
        "log_min_messages", "log_min_error_statement", "log_statement", "log_error_verbosity",
        # who and where: the prefix names the user; connection entries name it where the prefix does not
        "log_line_prefix", "log_connections", "log_disconnections",
        # where the log goes
        "log_destination", "logging_collector", "log_directory", "log_filename", "syslog_facility", "syslog_ident",
        # whether pgAudit is loaded at all
        "shared_preload_libraries", "session_preload_libraries", "local_preload_libraries",
    }
)  # fmt: skip
"""Settings (besides every `pgaudit.*`) whose change alters what pgAudit records or what the log keeps of it: a
change is an `audit-tamper` event, by anyone."""

TAMPER_FUNCTIONS: frozenset[str] = frozenset(
    {"pg_reload_conf", "lo_export", "pg_file_write", "pg_file_rename", "pg_file_unlink"}
)
"""Functions that apply a configuration changed behind the log's back, or write and move the server's files (the
configuration among them; adminpack's): tampering, whoever calls them."""

SERVER_FILE_READERS: frozenset[str] = frozenset({"pg_read_file", "pg_read_binary_file", "lo_import"})
"""Functions that read any server file, a table's own data files among them: rows the text cannot name (reported,
failing closed)."""

INFORMATION_SCHEMA_RELATIONS: frozenset[str] = frozenset(
    {
        # PostgreSQL 15, read from pg_class (tables and views in information_schema)
        "_pg_foreign_data_wrappers", "_pg_foreign_servers", "_pg_foreign_table_columns", "_pg_foreign_tables",
        "_pg_user_mappings", "administrable_role_authorizations", "applicable_roles", "attributes",
        "character_sets", "check_constraint_routine_usage", "check_constraints",
        "collation_character_set_applicability", "collations", "column_column_usage", "column_domain_usage",
        "column_options", "column_privileges", "column_udt_usage", "columns", "constraint_column_usage",
        "constraint_table_usage", "data_type_privileges", "domain_constraints", "domain_udt_usage", "domains",
        "element_types", "enabled_roles", "foreign_data_wrapper_options", "foreign_data_wrappers",
        "foreign_server_options", "foreign_servers", "foreign_table_options", "foreign_tables",
        "information_schema_catalog_name", "key_column_usage", "parameters", "referential_constraints",
        "role_column_grants", "role_routine_grants", "role_table_grants", "role_udt_grants", "role_usage_grants",
        "routine_column_usage", "routine_privileges", "routine_routine_usage", "routine_sequence_usage",
        "routine_table_usage", "routines", "schemata", "sequences", "sql_features", "sql_implementation_info",
        "sql_parts", "sql_sizing", "table_constraints", "table_privileges", "tables", "transforms",
        "triggered_update_columns", "triggers", "udt_privileges", "usage_privileges", "user_defined_types",
        "user_mapping_options", "user_mappings", "view_column_usage", "view_routine_usage", "view_table_usage",
        "views",
    }
)  # fmt: skip
"""What information_schema holds. It is an ordinary schema: a superuser can move a table into it, or make a view
there, so a name it does not hold is application data."""
