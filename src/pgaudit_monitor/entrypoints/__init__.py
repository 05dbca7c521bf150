"""Stage 6: the entry points (command line; later the Lambda handler and the watcher)."""
