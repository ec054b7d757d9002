"""Small helpers every layer may use: files and hashes, the cache root, seeds, offline detection,
did-you-mean suggestions, device and threads. Nothing here knows a model, task or run."""
