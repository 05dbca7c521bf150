-- The function names that policy/builtins.py lists in BUILTIN_FUNCTIONS, read from a server of a given version:
-- every function of pg_catalog and information_schema, by name (overloads are one name).
SELECT DISTINCT proname FROM pg_proc
WHERE pronamespace IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
ORDER BY proname;
