"""HTTP + WebSocket API: parse, authorize, call the core, serialize. Nothing else."""
