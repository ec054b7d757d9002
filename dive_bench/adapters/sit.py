"""SiT (Scalable Interpolant Transformers) original-format checkpoints, scored as flow models.

SiT shares DiT's module layout, so ``sit:PATH.pt`` converts it exactly as ``dit:PATH.pt`` does
(``dit_original``). What differs is the parameterization (willisma/SiT ``transport``, the default
"Linear" path with velocity prediction): SiT's time runs the other way, x_t = t x_data + (1 - t) noise
with t in [0, 1] (noise at t = 0), the network embeds t itself (no x1000), and its output (the first
half of the channels when sigma is learned) is the velocity d x_t / dt = x_data - noise. In
dive_bench's flow convention (x_t = (1 - t) x0 + t eps, v = eps - x0) that is time 1 - t and
velocity minus the output: ``Flow(time_scale=1, data_at_one=True)`` says exactly this, so probes,
the eps-space error and the flow-matching samplers apply unchanged.
"""

from __future__ import annotations

from dive_bench.errors import DiveBenchError
from dive_bench.adapters.dit import DiTAdapter
from dive_bench.adapters.parameterization import Flow, Parameterization

#: SiT's Linear path with velocity prediction, in dive_bench's flow convention (see module doc)
SIT_FLOW = Flow(time_scale=1.0, data_at_one=True)


class SiTAdapter(DiTAdapter):
    """An original SiT checkpoint in a DiT body, with SiT's flow parameterization."""

    def __init__(self, transformer, *, parameterization: Parameterization | None = None, **kwargs) -> None:
        super().__init__(transformer, parameterization=parameterization or SIT_FLOW, **kwargs)
        self.schedule = None  # no DDPM schedule: the time domain is the parameterization's

    @classmethod
    def from_pretrained(cls, source: str, *, name: str | None = None, torch_dtype=None) -> "SiTAdapter":
        from dive_bench.adapters.dit_original import is_original_file, load_original

        if not is_original_file(source):
            raise DiveBenchError(f"sit:{source} is not a checkpoint file: sit: takes an original SiT state dict "
                                 "(e.g. sit:./SiT-XL-2-256x256.pt); a diffusers folder or hub id loads with dit: "
                                 "(flow models say so in their scheduler config)")
        return load_original(source, name=name or f"sit:{source}", adapter_cls=cls, torch_dtype=torch_dtype,
                             family="sit")

    def info(self) -> dict:
        return {**super().info(), "adapter": "sit"}
