"""The AWS side of the pipeline: Logs Insights queries, aligned windows and their checkpoint, the settings of a run.

Nothing here decides what a detection is: the queries only narrow, and every record they return goes through the
same Pipeline as `pgaudit-monitor scan`.
"""
