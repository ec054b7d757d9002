"""diffusers ``DiTTransformer2DModel`` (pixel space, or latent space with an ``AutoencoderKL``).

diffusers has no model-level label embedder: every block has its own
``norm1.emb.class_embedder`` (and the final layer reuses block 0's). We inject the condition with
forward hooks on those modules, so the model code is untouched. When all blocks hold the same
table (tied: converted original DiTs, our own checkpoints) a condition is one row of width
``inner_dim``; otherwise the exact vocabulary is the per-block rows concatenated, and a condition
of width ``depth * inner_dim`` is split across the blocks.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dive_bench.models.class_dit import tables_are_tied
from dive_bench.adapters.base import (ClassAdapter, ClassLabels, NoiseSchedule, Parameterization, file_sha256, parameterization_info,
                   tensor_sha256, vae_downsample, vae_encode, vae_scaling_factor)
from dive_bench.adapters.loading import (load_component, load_parameterization, load_schedule, looks_local, param_count, read_metadata,
                      weight_files)


class DiTAdapter(ClassAdapter):
    def __init__(self, transformer, *, schedule: NoiseSchedule | None = None, vae=None,
                 scaling_factor: float | None = None, class_names: tuple[str, ...] | None = None,
                 name: str = "dit", sha256: str | None = None, null_row: bool | None = None,
                 parameterization: Parameterization | None = None) -> None:
        from diffusers import DDPMScheduler

        #: whether the CFG null row was trained (diffusers always builds one; a model trained
        #: without label dropout has an untrained row that guidance would amplify). None: unknown,
        #: trusted as the original DiT does (it was trained with dropout 0.1)
        self.null_row = null_row
        self.transformer = transformer.eval().requires_grad_(False)
        self.vae = vae.eval().requires_grad_(False) if vae is not None else None
        self.scaling_factor = scaling_factor if scaling_factor is not None else (
            vae_scaling_factor(vae) if vae is not None else 1.0)
        self.schedule = schedule or NoiseSchedule(
            DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").alphas_cumprod.float())
        #: None: an eps-predicting DDPM on ``schedule`` (the default of ``Adapter.parameterization``)
        self._parameterization = parameterization
        self.name = name
        cfg = transformer.config
        self.num_classes = int(cfg.num_embeds_ada_norm)
        self.label_space = ClassLabels(self.num_classes, tuple(class_names or (str(i) for i in range(self.num_classes))))
        self.latent_channels = int(cfg.in_channels)
        if vae is not None:
            factor = vae_downsample(vae)
            self.image_shape = (int(vae.config.in_channels), cfg.sample_size * factor, cfg.sample_size * factor)
        else:
            self.image_shape = (int(cfg.in_channels), int(cfg.sample_size), int(cfg.sample_size))
        self._embedders = [b.norm1.emb.class_embedder for b in transformer.transformer_blocks]
        self.tied = tables_are_tied(transformer)
        self._inject: list[torch.Tensor] | None = None
        self._sha256 = sha256
        for i, module in enumerate(self._embedders):
            module.register_forward_hook(self._make_hook(i))

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, source: str, *, name: str | None = None, torch_dtype=None) -> "DiTAdapter":
        """A bare transformer folder, a DiTPipeline folder / hub id (transformer/, vae/, scheduler/), or
        an original-format ``.pt`` state dict with ``?options`` (converted by ``dit_original``)."""
        from diffusers import AutoencoderKL, DiTTransformer2DModel

        from dive_bench.adapters.dit_original import is_original_file, load_original

        if is_original_file(source):
            return load_original(source, name=name or f"dit:{source}", adapter_cls=cls, torch_dtype=torch_dtype)

        kw = {"torch_dtype": torch_dtype} if torch_dtype is not None else {}
        pipeline_layout = (not looks_local(source)) or (Path(source).expanduser() / "transformer").is_dir()
        if pipeline_layout:
            transformer = load_component(DiTTransformer2DModel, source, "transformer", **kw)
            vae = None
            if not looks_local(source) or (Path(source).expanduser() / "vae").is_dir():
                vae = load_component(AutoencoderKL, source, "vae", **kw)
            sched_dir = "scheduler"
        else:
            transformer = load_component(DiTTransformer2DModel, source, **kw)
            vae, sched_dir = None, None
        schedule = load_schedule(source, sched_dir)
        meta = read_metadata(source)
        param = load_parameterization(source, sched_dir, schedule, meta)
        files = weight_files(source)
        sha = file_sha256(files) if files else None
        dropout = (meta.get("train_config") or {}).get("class_dropout")
        null_row = meta.get("null_row", None if dropout is None else dropout > 0)
        return cls(transformer, schedule=schedule, vae=vae, class_names=tuple(meta.get("class_names", ())) or None,
                   name=name or f"dit:{source}", sha256=sha, null_row=null_row, parameterization=param)

    # -- interface -----------------------------------------------------------------------------
    def _tables(self) -> list[torch.Tensor]:
        return [m.embedding_table.weight[: self.num_classes] for m in self._embedders]

    @property
    def vocabulary(self) -> dict[str, torch.Tensor]:
        # The CFG null row (index num_classes) is not a class: it is left out of the vocabulary.
        tables = self._tables()
        table = tables[0] if self.tied else torch.cat(tables, dim=-1)
        return {"class": table.detach()}

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        self.check_images(images)
        if self.vae is None:
            return images
        return vae_encode(self.vae, images, self.scaling_factor)

    def _make_hook(self, index: int):
        def hook(module, args, output):
            if self._inject is None:
                return output
            return self._inject[index].to(output.dtype)
        return hook

    def model_output(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        row = cond[:, 0, :]
        width = self._embedders[0].embedding_table.embedding_dim
        self._inject = [row] * len(self._embedders) if self.tied else list(row.split(width, dim=-1))
        try:
            dummy = torch.zeros(len(x_t), dtype=torch.long, device=x_t.device)
            out = self.transformer(x_t, timestep=t, class_labels=dummy, return_dict=False)[0]
        finally:
            self._inject = None
        # Learned-sigma models output 2C channels: the prediction is the first half.
        return out[:, : self.latent_channels]

    # -- sampling (fidelity metrics) --------------------------------------------------------------
    def null_condition(self) -> torch.Tensor | None:
        """The CFG null row (index num_classes), present when the model was built with label dropout."""
        tables = [m.embedding_table.weight for m in self._embedders]
        if tables[0].shape[0] <= self.num_classes or self.null_row is False:
            return None
        rows = [t[self.num_classes] for t in tables]
        row = rows[0] if self.tied else torch.cat(rows, dim=-1)
        return row.detach().view(1, 1, -1)

    def sample_shape(self) -> tuple[int, int, int]:
        cfg = self.transformer.config
        return (self.latent_channels, int(cfg.sample_size), int(cfg.sample_size))

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        if self.vae is None:
            return x0
        with torch.no_grad():
            return self.vae.decode(x0.to(self.vae.dtype) / self.scaling_factor).sample

    def info(self) -> dict:
        params = param_count(self.transformer) + (param_count(self.vae) if self.vae is not None else 0)
        return {"name": self.name, "adapter": "dit", "params": params,
                "transformer_params": param_count(self.transformer),
                "sha256": self._sha256 or tensor_sha256(self.transformer),
                "dtype": str(self.transformer.dtype).replace("torch.", ""),
                "tied_label_tables": self.tied, "latent": self.vae is not None,
                "num_classes": self.num_classes, "image_shape": list(self.image_shape),
                **parameterization_info(self.parameterization)}

    def to(self, device: torch.device | str) -> "DiTAdapter":
        self.transformer.to(device)
        if self.vae is not None:
            self.vae.to(device)
        return self
