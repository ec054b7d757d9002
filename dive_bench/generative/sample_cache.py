"""Generated samples on disk: one PNG per sample index plus ``manifest.json``.

The manifest pins what makes the samples (model sha256, sampler, steps, guidance, seed, label
policy, precision), so a rerun generates only the missing indices and FID can be recomputed
without resampling; a different configuration pointed at the same folder is refused instead of
mixing two models' samples. PNGs are written to a temporary name and renamed, so a killed run
never leaves a truncated image that would later count as done.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import torch

from dive_bench.errors import DiveBenchError
from dive_bench.util.files import dir_problem
from dive_bench.spec.run_json import write_json_atomic

MANIFEST = "manifest.json"
_PNG = re.compile(r"^(\d{6,})\.png$")


class SampleCache:
    """A folder of uint8 samples ``{index:06d}.png`` generated under one fixed ``config``."""

    def __init__(self, folder: str | Path, config: dict) -> None:
        self.folder = Path(folder)
        self.config = json.loads(json.dumps(config, sort_keys=True))  # normalised (tuples -> lists)
        # before any sampling: an --out that is a file, under /proc, read-only or immutable would
        # otherwise fail only when the first batch of samples is written
        problem = dir_problem(self.folder)
        if problem:
            raise DiveBenchError(f"sample folder {self.folder} {problem}; pass --out a new or existing folder you can "
                                 "write to")
        path = self.folder / MANIFEST
        if path.exists():
            try:
                manifest = json.loads(path.read_bytes())
            except (ValueError, OSError) as exc:
                raise DiveBenchError(f"{path} is corrupt ({' '.join(str(exc).split())[:120]}); delete the folder "
                                     f"{self.folder} to resample") from exc
            if not isinstance(manifest, dict):
                raise DiveBenchError(f"{path} is corrupt (not a JSON object); delete the folder {self.folder} to resample")
            stored = manifest.get("config", {})
            if stored != self.config:
                diff = sorted(k for k in set(stored) | set(self.config) if stored.get(k) != self.config.get(k))
                details = "; ".join(f"{k}: folder has {stored.get(k)!r}, requested {self.config.get(k)!r}" for k in diff)
                raise DiveBenchError(
                    f"sample folder {self.folder} holds samples of another configuration ({details}); "
                    "use another --out, or delete the folder to resample")
            self.manifest = manifest
        else:
            self.manifest = {"schema": 1, "config": self.config, "generation_seconds": 0.0, "generated": 0}
            self._save_manifest()  # two workers creating it at once write the same empty manifest

    def _save_manifest(self) -> None:
        write_json_atomic(self.folder / MANIFEST, self.manifest,
                          intact="the samples written so far are kept; free disk space or fix permissions and "
                                 "rerun the same command to resume")

    def path(self, index: int) -> Path:
        return self.folder / f"{index:06d}.png"

    def present(self) -> set[int]:
        return {int(m.group(1)) for f in os.listdir(self.folder) if (m := _PNG.match(f))}

    def missing(self, n: int) -> list[int]:
        have = self.present()
        return [i for i in range(n) if i not in have]

    def write(self, indices: list[int], images: torch.Tensor, seconds: float) -> None:
        """Store uint8 images (B, C, H, W) under their indices; ``seconds`` is their generation time."""
        from PIL import Image

        if images.dtype != torch.uint8 or images.ndim != 4 or len(images) != len(indices):
            raise ValueError(f"need {len(indices)} uint8 (B, C, H, W) images, got {images.dtype} {tuple(images.shape)}")
        arr = images.cpu().permute(0, 2, 3, 1).numpy()
        for i, a in zip(indices, arr):
            tmp = self.folder / f".{i:06d}.png.tmp-{os.getpid()}"
            try:
                Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(tmp, format="PNG")
                os.replace(tmp, self.path(i))
            except OSError as exc:
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
                raise DiveBenchError(f"could not write sample {self.path(i)} ({exc.strerror or exc}); the samples "
                                     "written before are kept: free disk space or fix permissions and rerun the same "
                                     "command to resume") from exc
        self._count(len(indices), seconds)

    def _count(self, n: int, seconds: float) -> None:
        """Add this batch's count and time to the manifest. Workers of a sharded run share the
        folder, so the manifest is re-read and rewritten under an exclusive flock: each worker
        adding to its own stale copy would keep only the last writer's counts."""
        import fcntl

        with open(self.folder / ".manifest.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                on_disk = json.loads((self.folder / MANIFEST).read_bytes())
                if isinstance(on_disk, dict) and on_disk.get("config") == self.config:
                    self.manifest = on_disk
            except (OSError, ValueError):
                pass  # unreadable: this worker's copy is rewritten whole
            self.manifest["generation_seconds"] = float(self.manifest.get("generation_seconds", 0.0)) + float(seconds)
            self.manifest["generated"] = int(self.manifest.get("generated", 0)) + n
            self.manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._save_manifest()

    def load(self, n: int) -> torch.Tensor:
        """The first ``n`` samples as uint8 (n, C, H, W); all must be present."""
        missing = self.missing(n)
        if missing:
            raise DiveBenchError(f"{len(missing)} of {n} samples are missing from {self.folder} (first: {missing[0]}); "
                                 "rerun the command to generate them")
        from dive_bench.data.image_folder import decode_image, read_bytes

        out = []
        for i in range(n):  # a damaged sample is named, with how to make it again
            out.append(decode_image(read_bytes(self.path(i)), f"sample {self.path(i)}",
                                    fix="delete it and rerun the `dive-bench fidelity` command that made this folder "
                                        "(it regenerates missing samples only)"))
            if out[-1].shape != out[0].shape:
                raise DiveBenchError(f"sample {self.path(i)} is {out[-1].shape[2]}x{out[-1].shape[1]}x{out[-1].shape[0]} "
                                     f"(WxHxC) but {self.path(0)} is {out[0].shape[2]}x{out[0].shape[1]}x"
                                     f"{out[0].shape[0]}; delete it and rerun the fidelity command to regenerate it")
        return torch.from_numpy(np.stack(out))

    @property
    def seconds_per_sample(self) -> float | None:
        """Mean generation time of the samples this folder's runs produced (None if none yet)."""
        g = int(self.manifest.get("generated", 0))
        return float(self.manifest["generation_seconds"]) / g if g else None
