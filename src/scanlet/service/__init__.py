"""Processes: the service (``serve``), its single-instance lock and its runtime wiring."""
