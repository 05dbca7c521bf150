"""Names the dead-code check (vulture, run by scripts/test.sh) cannot see used: each is used by a framework.

.venv/bin/vulture src scripts tests lambda bench --exclude bench/out
"""
# ruff: noqa: B018, F821

_.do_POST  # http.server calls a handler's do_<METHOD> and log_message (the demo's receiver, the tests' receivers)
_.log_message
_.handle_DATA  # aiosmtpd calls its handler's handle_DATA (the tests' SMTP servers)
mechanism  # an argument aiosmtpd's authenticator hook receives
_.row_factory  # sqlite3 reads Connection.row_factory
pytestmark  # pytest reads a test module's marks from it
monitor_env  # a fixture the Lambda's tests request by name, for its side effect (the emulator's environment)
_.readable  # io.BufferedReader asks its raw stream (entries.compression's zstd reader)
