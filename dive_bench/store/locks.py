"""The flocks that keep a run folder's workers apart: each shard's lock file (held exclusively by
its worker, shared by a reader for the milliseconds of a read) and the worker-count claim that
stops workers of different counts from computing the same items twice.
"""

from __future__ import annotations

import fcntl
import re
import time
from pathlib import Path

from dive_bench.errors import DiveBenchError

#: how long a worker waits for its shard's lock while a reader (merge, a finishing worker) holds it
LOCK_WAIT_SECONDS = 3.0


def _open_lock(path: Path):
    """The shard's lock file, opened so that it can be flocked; None where it cannot be opened
    (a read-only folder that never had a worker)."""
    lock = Path(path).with_suffix(".lock")
    for mode in ("a+", "r"):
        try:
            return open(lock, mode)
        except OSError:
            continue
    return None


class WorkerCountClaim:
    """Held by every worker of a run folder: a shared flock on ``shards/workers-N.lock`` for its
    worker count N. Workers with another count (``--shard K/1`` beside ``--shard K/2``) would
    form other blocks and compute the same items twice, so a worker refuses to start while any
    worker of another count holds its file; once they have exited any count may resume."""

    def __init__(self, out_dir: Path, n: int) -> None:
        self.out_dir, self.n = Path(out_dir), int(n)
        folder = self.out_dir / "shards"
        self._file = open(folder / f"workers-{self.n}.lock", "a+")
        try:
            _flock_waiting(self._file, fcntl.LOCK_SH)
            for other in sorted(folder.glob("workers-*.lock")):
                m = re.fullmatch(r"workers-(\d+)\.lock", other.name)
                if not m or int(m.group(1)) == self.n:
                    continue
                with open(other, "r") as g:
                    try:
                        fcntl.flock(g, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        raise DiveBenchError(
                            f"{self.out_dir} is being scored right now by workers with another worker count "
                            f"(--shard K/{m.group(1)}); this worker has --shard K/{self.n}, and the two would compute "
                            f"the same items twice. Wait for them to finish (any worker count can resume the run "
                            f"afterwards), or start this one as --shard K/{m.group(1)}") from None
                    fcntl.flock(g, fcntl.LOCK_UN)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if not self._file.closed:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()


def claim_worker_count(out_dir: Path, n: int) -> WorkerCountClaim:
    """Take this worker's place among the run's workers of count ``n`` (see :class:`WorkerCountClaim`);
    release it with ``.release()``. ``ShardStore`` does this itself for ``shard-K-of-N`` files."""
    return WorkerCountClaim(out_dir, n)


def _flock_waiting(f, how: int, seconds: float = LOCK_WAIT_SECONDS) -> None:
    """flock without blocking forever: readers hold a shard's lock for the milliseconds of a read."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(f, how | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
