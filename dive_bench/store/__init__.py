"""Stored results: one SQLite shard per worker (``shards``, with ``merge``), the shard locks that
keep two workers off one file (``locks``) and the errors that name a damaged shard (``errors``).
The store loads no model and runs no method."""
