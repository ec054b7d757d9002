"""Our layout-to-image model (``models/layout_dit.py``) and its layout prior behind the Adapter.

The model runs in pixel space (the bundled canvas model) or, at paper scale, in the latent space
of an ``AutoencoderKL`` stored beside it in ``vae/``: images are then encoded with the posterior
mean times the VAE's scaling factor, as for DiT. Boxes are always in pixels of the input images.

Slots come in two kinds with their own vocabularies: ``class`` (K classes + [none]) and
``coord`` (grid values + [none]). The prior, when present, scores a layout-embedding sequence
by its own denoising error, which DIVE adds to the image loss.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dive_bench.errors import DiveBenchError
from dive_bench.labels import LayoutLabels, LayoutTokenizer
from dive_bench.models.layout_dit import LayoutDiT
from dive_bench.adapters.base import Adapter, NoiseSchedule, file_sha256, tensor_sha256, vae_downsample, vae_encode, vae_scaling_factor
from dive_bench.adapters.loading import load_component, load_schedule, param_count, read_metadata, weight_files


PRIOR_FOLDERS = {"joint": "prior", "decoupled": "prior-decoupled"}


class LayoutAdapter(Adapter):
    def __init__(self, model: LayoutDiT, tokenizer: LayoutTokenizer, *, schedule: NoiseSchedule | None = None,
                 priors: dict | None = None, class_names: tuple[str, ...] = (), name: str = "layout", sha256: str | None = None,
                 image_sha256: str | None = None, vae=None, scaling_factor: float | None = None) -> None:
        from diffusers import DDPMScheduler

        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        #: {"joint": LayoutPrior, "decoupled": DecoupledPrior}, whichever were trained
        self.priors = {k: v.eval().requires_grad_(False) for k, v in (priors or {}).items()}
        self.schedule = schedule or NoiseSchedule(
            DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").alphas_cumprod.float())
        self.label_space = LayoutLabels(tokenizer.num_classes, tokenizer.grid, tokenizer.max_objects, tuple(class_names),
                                        tokenizer=tokenizer)
        self.vae = vae.eval().requires_grad_(False) if vae is not None else None
        self.scaling_factor = scaling_factor if scaling_factor is not None else (
            vae_scaling_factor(vae) if vae is not None else 1.0)
        if vae is not None:
            if model.config.in_channels != int(vae.config.latent_channels):
                raise DiveBenchError(f"layout model takes {model.config.in_channels} channels but its VAE gives "
                                     f"{vae.config.latent_channels} latent channels; retrain the model on this VAE's latents")
            factor = vae_downsample(vae)
            self.image_shape = (int(vae.config.in_channels), model.config.image_size * factor,
                                model.config.image_size * factor)
        else:
            self.image_shape = (model.config.in_channels, model.config.image_size, model.config.image_size)
        if tokenizer.image_size != self.image_shape[-1]:
            raise DiveBenchError(f"the tokenizer places boxes on {tokenizer.image_size}-pixel images but the model "
                                 f"takes {self.image_shape[-1]}-pixel images; check dive_bench.json's image_size")
        self.none_index = {"class": tokenizer.none_class, "coord": tokenizer.none_coord}
        self.name = name
        self._sha256 = sha256
        self._image_sha256 = image_sha256
        # the weights image_sha256 names, to tell when a training loop has changed them since
        self._image_weights_at_load = tensor_sha256(self.model) if image_sha256 else None

    @classmethod
    def from_pretrained(cls, source: str, *, name: str | None = None, torch_dtype=None,
                        prior_set: str | None = None) -> "LayoutAdapter":
        """``prior_set``: read the priors from ``source/prior_set/`` instead of ``source/``, so one
        layout-to-image model can ship priors trained on several layout distributions. The model
        hash covers the image model and the priors in use, not the other sets beside them."""
        from dive_bench.models.layout_prior import load_prior

        # Bundled weights may be stored in fp16 to stay small; inversion always runs in float32.
        model = load_component(LayoutDiT, source, torch_dtype=torch.float32)
        meta = read_metadata(source)
        base = Path(source).expanduser()
        vae = None
        if (base / "vae").is_dir():  # a latent model carries its autoencoder
            from diffusers import AutoencoderKL

            vae = load_component(AutoencoderKL, source, "vae", torch_dtype=torch.float32)
        # boxes are in pixels of the input images: the model's own size in pixel space, the VAE's
        # input size in latent space (recorded by training as image_size)
        tok = LayoutTokenizer(tuple(meta.get("category_ids", range(1, model.config.num_classes + 1))),
                              model.config.grid, model.config.max_objects,
                              int(meta.get("image_size", model.config.image_size)))
        prior_base = base / prior_set if prior_set else base
        if prior_set and not prior_base.is_dir():
            raise DiveBenchError(f"layout model {source} has no prior set {prior_set!r} (no folder {prior_base})")
        prior_dirs = {variant: prior_base / folder for variant, folder in PRIOR_FOLDERS.items() if (prior_base / folder).is_dir()}
        priors = {variant: load_prior(d) for variant, d in prior_dirs.items()}
        all_files = weight_files(source)
        # the layout-to-image model (and its VAE), not its priors
        image_files = [f for f in all_files if f.parent == base or base / "vae" in f.parents]
        files = image_files + [f for f in all_files if any(d in f.parents for d in prior_dirs.values())]
        return cls(model, tok, schedule=load_schedule(source, None), priors=priors,
                   class_names=tuple(meta.get("class_names", ())), name=name or f"layout:{source}",
                   sha256=file_sha256(files) if files else None,
                   image_sha256=file_sha256(image_files) if image_files else None, vae=vae)

    @property
    def vocabulary(self) -> dict[str, torch.Tensor]:
        return {"class": self.model.class_vocab().detach(), "coord": self.model.coord_vocab().detach()}

    @property
    def slot_kinds(self) -> tuple[str, ...]:
        return self.tokenizer.slot_kinds

    def embed(self, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model.embed_tokens(labels)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        self.check_images(images)
        return images if self.vae is None else vae_encode(self.vae, images, self.scaling_factor)

    def predict_noise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.model(x_t, t, cond)

    def prior_mask(self, variant: str, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Which slots one prior query noises, (L,) bool, for priors trained on slot subsets
        (``LayoutPrior.noised_fraction`` < 1); None (and no random draw) for the paper's priors."""
        prior = self.priors.get(variant)
        mask = None if prior is None else prior.draw_mask(1, self.tokenizer.num_slots, generator)
        return None if mask is None else mask[0]

    def prior_loss(self, cond: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, variant: str = "joint",
                   mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample denoising error of the layout prior on the slot sequence ``cond``."""
        if variant not in self.priors:
            raise DiveBenchError(f"model {self.name!r} has no {variant} layout prior (has: {sorted(self.priors) or 'none'}); "
                                 "train one with `dive-bench train layout-prior` or run with --no-prior")
        return self.priors[variant].loss(cond, t, noise, self.schedule, mask)

    def null_condition(self) -> torch.Tensor | None:
        """The all-[none] layout: training drops whole layouts to it (classifier-free dropout)."""
        return self.embed(self.tokenizer.empty().view(1, -1).to(self.device))

    @property
    def image_model_sha256(self) -> str:
        """Hash of the layout-to-image model alone (``info()["sha256"]`` covers the priors too):
        what depends only on the image model, like the coarse seed layouts, stays valid when
        a prior is retrained. Once the weights in memory differ from the file's (a live model a
        training loop updates), it is the hash of those weights, so no stale seed is reused."""
        now = tensor_sha256(self.model)
        return self._image_sha256 if now == self._image_weights_at_load else now

    def info(self) -> dict:
        params = param_count(self.model)
        return {"name": self.name, "adapter": "layout", "params": params,
                "prior_params": {k: param_count(v) for k, v in self.priors.items()},
                "sha256": self._sha256 or tensor_sha256(self.model), "dtype": str(self.model.dtype).replace("torch.", ""),
                "num_classes": self.tokenizer.num_classes, "grid": self.tokenizer.grid,
                "max_objects": self.tokenizer.max_objects, "image_shape": list(self.image_shape),
                **({"vae_params": param_count(self.vae), "latent_shape": [self.model.config.in_channels,
                                                                           self.model.config.image_size,
                                                                           self.model.config.image_size]}
                   if self.vae is not None else {})}

    def to(self, device) -> "LayoutAdapter":
        self.model.to(device)
        if self.vae is not None:
            self.vae.to(device)
        for prior in self.priors.values():
            prior.to(device)
        return self
