"""Stage 5: where outcomes go. Only sinks and entry points write to the outside world."""
