"""Is this process offline? One answer for every download path (hub checkpoints, Inception)."""

from __future__ import annotations

import os

#: any of these set to 1/true/yes/on means: never try the network
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "DIVE_BENCH_OFFLINE", "TRANSFORMERS_OFFLINE")


def is_offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in OFFLINE_VARIABLES)


def offline_reason() -> str | None:
    """Which variable makes us offline, for error messages; None when online is allowed."""
    return next((f"{v} is set" for v in OFFLINE_VARIABLES
                 if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")), None)
