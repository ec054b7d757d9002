"""Presentation, from run.json files alone (no model, method, task or torch): the leaderboard,
the model comparison (Table VI) with agreement and per-class self-consistency, cost vs K, sweep
pages, fidelity tables, the ``check`` verdict, and the one Markdown table builder."""
