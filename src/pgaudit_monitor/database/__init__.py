"""The database side: what the server says about its own auditing (doctor, coverage, probe, role changes).

Only this package and the entry points talk to PostgreSQL. The checks themselves are pure functions over a
ServerSnapshot, so that every verdict can be tested on data as well as on a live server.
"""
