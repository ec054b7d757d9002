"""diffusers ``UNet2DModel`` with ``num_class_embeds`` (class embedding added to the time embedding).

The class embedding is a single ``nn.Embedding``; a forward hook on it replaces its output with
the condition. ``UNet2DModel`` has no null row of its own: a model trained with classifier-free
dropout to an extra class says so with ``null_class_index`` (constructor or dive_bench.json), and
that row is excluded from the vocabulary.
"""

from __future__ import annotations

import torch

from dive_bench.adapters.base import ClassAdapter, ClassLabels, NoiseSchedule, Parameterization, file_sha256, parameterization_info, tensor_sha256
from dive_bench.adapters.loading import (load_component, load_parameterization, load_schedule, looks_local, param_count, read_metadata,
                      weight_files)


class UNetAdapter(ClassAdapter):
    def __init__(self, unet, *, schedule: NoiseSchedule | None = None, class_names: tuple[str, ...] | None = None,
                 null_class_index: int | None = None, name: str = "unet", sha256: str | None = None,
                 parameterization: Parameterization | None = None) -> None:
        from diffusers import DDPMScheduler

        if unet.class_embedding is None or not isinstance(unet.class_embedding, torch.nn.Embedding):
            from dive_bench.errors import DiveBenchError
            raise DiveBenchError("the unet adapter needs a UNet2DModel built with num_class_embeds (an nn.Embedding class table)")
        self.unet = unet.eval().requires_grad_(False)
        self.schedule = schedule or NoiseSchedule(
            DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").alphas_cumprod.float())
        self._parameterization = parameterization
        rows = unet.class_embedding.num_embeddings
        self.null_class_index = null_class_index
        self._class_rows = [i for i in range(rows) if i != null_class_index]
        self.num_classes = len(self._class_rows)
        self.label_space = ClassLabels(self.num_classes, tuple(class_names or (str(i) for i in range(self.num_classes))))
        cfg = unet.config
        size = cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0]
        self.image_shape = (int(cfg.in_channels), int(size), int(size))
        self.name = name
        self._sha256 = sha256
        self._inject: torch.Tensor | None = None
        unet.class_embedding.register_forward_hook(self._hook)

    @classmethod
    def from_pretrained(cls, source: str, *, name: str | None = None, torch_dtype=None) -> "UNetAdapter":
        from pathlib import Path

        from diffusers import UNet2DModel

        kw = {"torch_dtype": torch_dtype} if torch_dtype is not None else {}
        sub = "unet" if (not looks_local(source) or (Path(source).expanduser() / "unet").is_dir()) else None
        unet = load_component(UNet2DModel, source, sub, **kw)
        meta = read_metadata(source)
        files = weight_files(source)
        schedule = load_schedule(source, "scheduler" if sub else None)
        return cls(unet, schedule=schedule,
                   parameterization=load_parameterization(source, "scheduler" if sub else None, schedule, meta),
                   class_names=tuple(meta.get("class_names", ())) or None,
                   null_class_index=meta.get("null_class_index"), name=name or f"unet:{source}",
                   sha256=file_sha256(files) if files else None)

    @property
    def vocabulary(self) -> dict[str, torch.Tensor]:
        w = self.unet.class_embedding.weight
        return {"class": w[self._class_rows].detach()}

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        self.check_images(images)
        return images

    def _hook(self, module, args, output):
        return output if self._inject is None else self._inject.to(output.dtype)

    def model_output(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self._inject = cond[:, 0, :]
        try:
            dummy = torch.zeros(len(x_t), dtype=torch.long, device=x_t.device)
            out = self.unet(x_t, t, class_labels=dummy, return_dict=False)[0]
        finally:
            self._inject = None
        return out[:, : self.image_shape[0]]

    def null_condition(self) -> torch.Tensor | None:
        """The row trained as the classifier-free null class (``null_class_index``), if any."""
        if self.null_class_index is None:
            return None
        return self.unet.class_embedding.weight[self.null_class_index].detach().view(1, 1, -1)

    def info(self) -> dict:
        return {"name": self.name, "adapter": "unet", "params": param_count(self.unet),
                "sha256": self._sha256 or tensor_sha256(self.unet),
                "dtype": str(self.unet.dtype).replace("torch.", ""), "num_classes": self.num_classes,
                "image_shape": list(self.image_shape), **parameterization_info(self.parameterization)}

    def to(self, device) -> "UNetAdapter":
        self.unet.to(device)
        return self
