"""Who may talk to the service: hosts, origins, pairing, tokens, API keys, TLS certificates."""
