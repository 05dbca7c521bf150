"""The entry points: the `pgaudit-monitor` command (scan, the database commands, watch and status, triage) and the
Lambda handler. They parse arguments, call the core, and map errors to exit codes; no decision is made here."""
