"""Stage 5: where detections go, all behind one protocol (base.Sink: a name and `send`). Only sinks and entry
points write to the outside world."""
