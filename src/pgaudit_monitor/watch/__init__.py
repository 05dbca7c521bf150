"""Local mode: follow PostgreSQL's log on this machine, alarm and notify in seconds, with no cloud service.

follower    which bytes of which files are new; checkpoints that never split an entry or a statement
state       the SQLite database: positions, alarm, outbox, the detections already counted
alarm       counts per window, threshold, OK/ALARM transitions (the AWS alarm's semantics)
journal     the JSON-lines record of every detection, exactly once
outbox      notifications waiting for delivery, retried with backoff across restarts
watcher     the loop that ties them to the shared pipeline
"""
