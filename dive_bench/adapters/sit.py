"""SiT (Scalable Interpolant Transformers) original-format checkpoints: loaded, not yet scored.

SiT shares DiT's module layout, so ``sit:PATH.pt`` converts it exactly as ``dit:PATH.pt`` does
(``dit_original``). But SiT predicts a flow velocity on x_t = (1 - t) x0 + t eps with t in [0, 1],
not a DDPM eps: scoring it through ``predict_noise`` and the DDPM schedule would give numbers that
look fine and mean nothing. Until the adapter interface has parameterizations (issue 16 item 1),
this adapter loads the model (``info``, parameter counts, label tables work) and refuses any
denoising call with one line.
"""

from __future__ import annotations

import torch

from ..errors import DiveBenchError
from .dit import DiTAdapter


class SiTAdapter(DiTAdapter):
    """An original SiT checkpoint in a DiT body; every denoising call is refused (see module doc)."""

    @classmethod
    def from_pretrained(cls, source: str, *, name: str | None = None, torch_dtype=None) -> "SiTAdapter":
        from .dit_original import is_original_file, load_original

        if not is_original_file(source):
            raise DiveBenchError(f"sit:{source} is not a checkpoint file: sit: takes an original SiT state dict "
                                 "(e.g. sit:./SiT-XL-2-256x256.pt)")
        return load_original(source, name=name or f"sit:{source}", adapter_cls=cls, torch_dtype=torch_dtype)

    def predict_noise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        raise DiveBenchError(f"{self.name} is a SiT flow-matching (velocity) model; dive_bench can only score "
                             "eps-predicting DDPMs until flow parameterization lands (issue 16 item 1)")

    def info(self) -> dict:
        return {**super().info(), "adapter": "sit", "parameterization": "flow velocity (not scorable yet)"}
