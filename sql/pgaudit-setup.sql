-- pgaudit-monitor: the database side of the setup.
--
-- Run as a superuser (on Aurora/RDS: the master user, a member of rds_superuser) in EVERY database that holds
-- application data, e.g.   psql "host=... dbname=appdb user=postgres" -v ON_ERROR_STOP=1 -f sql/pgaudit-setup.sql
-- Works on PostgreSQL 13 to 17 and on Aurora/RDS for PostgreSQL. Then run `pgaudit-monitor doctor`, which checks
-- every step below on the live server and proves with a probe that audit records reach the log.
--
-- ---------------------------------------------------------------------------------------------------------------
-- Step 0 (outside SQL, once per server): load the library.
--   Aurora/RDS: in the cluster (Aurora) or DB (RDS) parameter group, add `pgaudit` to shared_preload_libraries,
--               then REBOOT the writer and readers: the setting only takes effect at server start.
--   Self-hosted: ALTER SYSTEM SET shared_preload_libraries = 'pgaudit';  (append to any existing list), restart.
-- Both steps are needed: the library (Step 0) hooks the executor; the extension (Step 1) registers pgAudit's event
-- triggers in each database. With the library but no extension, PostgreSQL 15 + pgAudit 1.7 still writes session
-- records but DDL records lose their object type and name, and on Aurora nothing is logged at all - while the
-- cluster looks healthy. That silent failure is what the doctor is for.
-- ---------------------------------------------------------------------------------------------------------------

-- Step 1: the extension, in this database. Fails here if Step 0 was not done ("pgaudit must be loaded via
-- shared_preload_libraries"): a loud failure is the point.
CREATE EXTENSION IF NOT EXISTS pgaudit;

-- Step 2: the companion settings, server-wide (parameter group on Aurora/RDS; ALTER SYSTEM elsewhere).
--   pgaudit.log_catalog = on (default). Keep it: with it off, a statement touching only catalogs is not logged,
--       which cuts the noise of psql's \d and driver metadata, but a statement mixing catalogs and tables is still
--       logged and the monitor already excludes catalog-only statements by rule. Turning it off saves log volume.
--   pgaudit.log_relation = on (recommended where log volume allows). One record per relation, with pgAudit's
--       own resolved schema-qualified name: the detector then knows exactly which tables, views and sequences a
--       statement touched, even through search_path, a view, or a table named like a catalog. Cost: one extra
--       log line per relation of each audited statement (a join of 5 tables writes 5 records).
--   pgaudit.log_parameter = off (recommended). On, it writes bind parameter values: row data and secrets in the
--       log. The detector does not need them; turn it on only if an investigation must see values.
--   pgaudit.log_statement_once = off. On, later records of a statement say "<previously logged>"; the detector
--       copes, but every record standing on its own is easier to triage.
--   log_connections = on. Needed when log_line_prefix has no %u (self-hosted default '%m [%p] '): the monitor
--       then takes each backend's user from its "connection authorized" entry. Aurora's fixed prefix has %u.
-- Self-hosted example (Aurora/RDS: set these in the parameter group instead):
--   ALTER SYSTEM SET pgaudit.log_relation = on;
--   ALTER SYSTEM SET pgaudit.log_parameter = off;
--   ALTER SYSTEM SET log_connections = on;
--   SELECT pg_reload_conf();

-- Step 3: audit the humans. Two postures; choose one.
--
-- Posture A - audit each human (the reference design). 'all' covers READ and WRITE and also MISC, which is where
-- pgAudit 1.7 logs MERGE ("MISC,???"): with 'read, write' alone a MERGE is never seen.
--   ALTER ROLE alice SET pgaudit.log TO 'all';
--   ALTER ROLE bob   SET pgaudit.log TO 'all';
-- Risk: a new human role that nobody enabled is never audited. `pgaudit-monitor coverage` lists such roles.
--
-- Posture B - audit everyone, opt the service accounts out. A new human is audited from the first statement;
-- the price is a little log volume from roles nobody opted out (coverage lists them as well).
--   ALTER SYSTEM SET pgaudit.log = 'all';            -- Aurora/RDS: pgaudit.log = all in the parameter group
--   SELECT pg_reload_conf();
--   ALTER ROLE app_svc SET pgaudit.log TO 'none';    -- each application service account
-- (rdsadmin, Aurora's internal user, needs nothing: the monitor always treats it as a service account.)
--
-- `pgaudit-monitor enable-user NAME` / `disable-user NAME` print (--dry-run) or run these ALTER ROLE statements.

-- Step 4: verification queries (the doctor runs the same checks and more).

-- 4.1 The library is loaded: must list pgaudit.
SHOW shared_preload_libraries;

-- 4.2 The extension is installed in this database: must return one row. 0 rows = not installed (Step 1).
SELECT extname, extversion FROM pg_extension WHERE extname = 'pgaudit';

-- 4.3 Per-role audit settings: every human LOGIN role must show pgaudit.log=all (posture A), or the server-wide
--     setting must be 'all' and service accounts must show pgaudit.log=none (posture B).
SELECT r.rolname,
       r.rolcanlogin,
       coalesce((SELECT string_agg(c, ', ')
                   FROM pg_db_role_setting s, unnest(s.setconfig) AS c
                  WHERE s.setrole = r.oid AND s.setdatabase = 0 AND c LIKE 'pgaudit.%'), '(none)') AS role_settings
  FROM pg_roles r
 WHERE r.rolcanlogin
 ORDER BY r.rolname;

-- 4.4 The server-wide settings the monitor depends on.
SELECT name, setting, source
  FROM pg_settings
 WHERE name IN ('pgaudit.log', 'pgaudit.log_catalog', 'pgaudit.log_relation', 'pgaudit.log_parameter',
                'log_line_prefix', 'log_destination', 'log_connections', 'logging_collector')
 ORDER BY name;
