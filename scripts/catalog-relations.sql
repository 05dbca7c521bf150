-- The relation names that policy/catalog.py lists in PG_CATALOG_RELATIONS, read from a server of a given version.
SELECT relname FROM pg_class
WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind IN ('r', 'v', 'm', 'p', 'f')
ORDER BY relname;
