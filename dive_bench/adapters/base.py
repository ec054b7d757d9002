"""The one interface every conditional diffusion model is seen through.

DIVE, enumeration and the fidelity metrics only ever call these methods; an adapter knows its
model and nothing about tasks. A condition is a tensor ``(B, L, D)`` of slot embeddings: one slot
for a class-conditional model, many (class and box slots) for a layout model. ``vocabulary``
names the embedding table each kind of slot draws from, so inversion can snap a learnable slot to
its nearest legal entry.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from dive_bench.util.files import files_sha256 as file_sha256  # noqa: F401  (the name adapters use)

from dive_bench.labels import ClassLabels, LayoutLabels  # noqa: F401  (re-exported: they live in labels.py)
from dive_bench.adapters.parameterization import DDPM, NoiseSchedule, Parameterization


def vae_scaling_factor(vae) -> float:
    """The latent scale of an ``AutoencoderKL`` (0.18215 for DiT's sd-vae-ft-* when unset)."""
    return float(getattr(vae.config, "scaling_factor", 0.18215))


def vae_downsample(vae) -> int:
    """Pixels per latent cell along a side: one halving per encoder block after the first."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


@torch.no_grad()
def vae_encode(vae, images: torch.Tensor, scaling_factor: float, batch: int | None = None) -> torch.Tensor:
    """Latents as DiT and DIVE use them: the posterior mean (not a sample) x the scaling factor,
    in chunks of ``batch`` images when given."""
    step = batch or len(images)
    return torch.cat([vae.encode(images[i:i + step].to(vae.dtype)).latent_dist.mean * scaling_factor
                      for i in range(0, len(images), step)])


def parameterization_info(p: Parameterization) -> dict:
    """``{"parameterization": ...}`` for ``info()``, empty for an eps-DDPM, so the recorded model
    info of every model scored before families existed is unchanged."""
    return {} if p.kind == "ddpm-eps" else {"parameterization": p.describe()}


def tensor_sha256(module: torch.nn.Module) -> str:
    """Hash of a module's parameters, for models built in memory (tests, fresh training)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


#: bytes copied to the host and hashed at a time (bounds host memory for a GPU model's tensors)
HASH_CHUNK_BYTES = 1 << 26


def weights_sha256(adapter: "Adapter") -> str:
    """sha256 of the weights an adapter holds in memory now: every tensor of the state of each of
    its ``modules()`` and its ``vocabulary`` tables, with name, dtype and shape, in a fixed order.

    A live model's run is keyed by it (``run.identity``): its checkpoint file's sha256 says nothing
    about weights a training loop changed since. The bytes are read as they are (any dtype, bf16
    included) in chunks of ``HASH_CHUNK_BYTES``, so hashing a DiT-XL (2.7 GB in fp32) costs about
    as long as sha256 takes over 2.7 GB, with no full copy in host memory."""
    h = hashlib.sha256()
    tensors = [(f"{name}.{key}", t) for name, module in sorted(adapter.modules().items())
               for key, t in sorted(module.state_dict().items())]
    tensors += [(f"vocabulary.{kind}", t) for kind, t in sorted(adapter.vocabulary.items())]
    for name, t in tensors:
        t = t.detach()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        flat = t.contiguous().reshape(-1)
        if flat.numel() == 0:
            continue
        raw = flat.view(torch.uint8) if flat.dtype != torch.bool else flat.to(torch.uint8)
        for start in range(0, raw.numel(), HASH_CHUNK_BYTES):
            h.update(raw[start:start + HASH_CHUNK_BYTES].cpu().numpy().data)
    return h.hexdigest()


class Adapter(ABC):
    """A frozen conditional diffusion model behind the interface DIVE and enumeration use."""

    name: str = "adapter"
    label_space: ClassLabels | LayoutLabels
    #: the DDPM schedule (DDPM families; None where the parameterization is flow or EDM)
    schedule: NoiseSchedule | None
    #: shape (C, H, W) of the pixel images ``encode`` accepts
    image_shape: tuple[int, int, int]

    @property
    @abstractmethod
    def vocabulary(self) -> dict[str, torch.Tensor]:
        """Named embedding tables ``{kind: (V, D)}`` that slots are snapped to."""

    @property
    @abstractmethod
    def slot_kinds(self) -> tuple[str, ...]:
        """For each of the L condition slots, the vocabulary it draws from."""

    @abstractmethod
    def embed(self, labels: torch.Tensor) -> torch.Tensor:
        """Discrete labels (B, L) -> condition embeddings (B, L, D)."""

    @abstractmethod
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Pixels in [-1, 1] (B, C, H, W) -> the model's input space x0."""

    @property
    def parameterization(self) -> Parameterization:
        """What the network predicts and in which time domain (``parameterization.py``).

        Set ``self._parameterization`` (or override) for a v, x0, flow or EDM model; the default is
        an eps-predicting DDPM on ``schedule``, which is what every adapter was before families."""
        found = getattr(self, "_parameterization", None)
        return found if found is not None else DDPM(self.schedule, "epsilon")

    def model_output(self, x_in: torch.Tensor, t_in: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The network's raw output at its own inputs (after ``parameterization.model_inputs``).

        Implement this (and declare a parameterization) or override ``predict_noise``."""
        raise NotImplementedError(f"{type(self).__name__} implements neither model_output nor predict_noise")

    def predict_noise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The eps estimate at state ``x_t`` and time ``t`` in the model's own time domain;
        differentiable in ``cond``. Scoring's only entry point: for an eps-DDPM it is the raw
        output itself, for other families the parameterization maps the output to eps."""
        p = self.parameterization
        x_in, t_in = p.model_inputs(x_t, t)
        return p.to_eps(x_t, t, self.model_output(x_in, t_in, cond))

    @abstractmethod
    def info(self) -> dict:
        """name, parameter count, checkpoint sha256, dtype: recorded in every result."""

    @property
    def device(self) -> torch.device:
        return next(iter(self.vocabulary.values())).device

    def modules(self) -> dict[str, torch.nn.Module]:
        """The networks this adapter runs, by attribute name (``priors.joint`` for a dict entry).

        Used to check weights before scoring (a NaN in one class row would otherwise be ranked as a
        number). The default finds every ``nn.Module`` attribute and dict of them; override it if
        your adapter keeps its networks elsewhere."""
        found: dict[str, torch.nn.Module] = {}
        for attr, value in vars(self).items():
            if isinstance(value, torch.nn.Module):
                found[attr] = value
            elif isinstance(value, dict):
                found.update({f"{attr}.{k}": v for k, v in value.items() if isinstance(v, torch.nn.Module)})
        return found

    def sample(self, labels: torch.Tensor, steps: int = 50, guidance_scale: float = 1.0,
               generator: torch.Generator | None = None, *, seeds: list[int] | None = None,
               scheduler: str = "ddim") -> torch.Tensor:
        """uint8 images (B, C, H, W) in pixel space for discrete ``labels``, for fidelity metrics.

        Each sample is seeded on its own (``seeds[i]``; else drawn from ``generator``; else
        sample_seed(0, i)) so a sample never depends on the batch it ran in. ``scheduler`` is
        ddim, ddpm or dpm (DPM-Solver++ 2M), built from this model's ``schedule``, for DDPM
        families; flow and EDM models run diffusers' FlowMatch / EDM schedulers (ddim = their
        Euler step, euler, heun for flow, dpm for EDM: ``parameterization.samplers``). Guidance > 1
        uses ``null_condition()`` (the classifier-free null row) and fails clearly without one.
        """
        from dive_bench.adapters.sampling import sample_from_condition, sample_seed

        if seeds is None:
            if generator is not None:
                seeds = torch.randint(0, 2 ** 62, (len(labels),), generator=generator).tolist()
            else:
                seeds = [sample_seed(0, i) for i in range(len(labels))]
        with torch.no_grad():
            cond = self.embed(labels.to(self.device))
        return sample_from_condition(self, cond, seeds, steps=steps, guidance_scale=guidance_scale,
                                     scheduler=scheduler, null_cond=self.null_condition())

    def null_condition(self) -> torch.Tensor | None:
        """The unconditional condition (1, L, D) for classifier-free guidance, or None."""
        return None

    def sample_shape(self) -> tuple[int, int, int]:
        """Shape of one sample in model space (a latent for latent models)."""
        return tuple(self.image_shape)

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        """Model space -> pixels in [-1, 1] (the inverse of ``encode``; identity in pixel space)."""
        return x0

    def check_images(self, images: torch.Tensor) -> None:
        """Refuse images of the wrong shape with a message that names both shapes."""
        from dive_bench.errors import DiveBenchError

        got = tuple(images.shape[1:])
        want = tuple(self.image_shape)
        if len(got) == len(want) == 3 and got[0] != want[0] and got[1:] == want[1:]:
            # the size is right: "choose another resolution" would be wrong advice
            kinds = {1: "grayscale", 3: "RGB"}
            raise DiveBenchError(
                f"images have {got[0]} channel(s) ({kinds.get(got[0], 'other')}) but model {self.name!r} takes "
                f"{want[0]} ({kinds.get(want[0], 'other')}); convert the images to {kinds.get(want[0], 'its mode')} "
                f"(e.g. PIL's Image.convert('{'L' if want[0] == 1 else 'RGB'}')) or score a {got[0]}-channel model")
        if got != want:
            raise DiveBenchError(
                f"images are {'x'.join(map(str, got))} (CxHxW) but model {self.name!r} expects "
                f"{'x'.join(map(str, self.image_shape))}; choose a task at the model's resolution")


class ClassAdapter(Adapter):
    """A class-conditional model: one condition slot drawn from the ``class`` table."""

    @property
    def slot_kinds(self) -> tuple[str, ...]:
        return ("class",)

    def embed(self, labels: torch.Tensor) -> torch.Tensor:
        return self.vocabulary["class"][labels.reshape(len(labels), -1)]
