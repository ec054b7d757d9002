"""The small CNN behind the in-domain feature extractor (Fashion-MNIST and similar 28x28 data).

Inception-v3 features were learned on ImageNet photographs; on 28x28 grayscale clothing they
measure mostly resampling artefacts. A classifier trained on the reference data itself gives
features that separate what matters in that domain. It is deliberately tiny (~0.1M parameters,
< 0.5 MB) so it ships inside the package and runs fast on a CPU. timm has nothing this small for
1-channel 28x28 inputs, so it is plain torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class ClassifierConfig:
    in_channels: int = 1
    image_size: int = 28
    num_classes: int = 10
    widths: tuple[int, ...] = (32, 64, 128)
    #: per-channel normalisation of [0, 1] pixels (the training split's mean / std)
    mean: float = 0.2860
    std: float = 0.3530


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallClassifier(nn.Module):
    """conv32 -> pool -> conv64 x2 -> pool -> conv128 -> global average pool (the features) -> linear."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()) -> None:
        super().__init__()
        self.config = config
        w1, w2, w3 = config.widths
        self.body = nn.Sequential(*_block(config.in_channels, w1), nn.MaxPool2d(2),
                                  *_block(w1, w2), *_block(w2, w2), nn.MaxPool2d(2),
                                  *_block(w2, w3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(w3, config.num_classes)

    @property
    def feature_dim(self) -> int:
        return self.config.widths[-1]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 or [0, 1]-scaled float (B, C, H, W) -> normalised float."""
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        return (x - self.config.mean) / self.config.std

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(self.normalize(x))
        return f, self.head(self.dropout(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]

    # -- files ---------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, folder / "model.safetensors")
        (folder / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> "SmallClassifier":
        """From ``config.json`` + ``model.safetensors`` (safetensors: no code runs on load)."""
        from safetensors.torch import load_file

        from dive_bench.errors import DiveBenchError

        folder = Path(folder)
        try:
            raw = json.loads((folder / "config.json").read_text())
            cfg = ClassifierConfig(**{**raw, "widths": tuple(raw.get("widths", ClassifierConfig.widths))})
            model = cls(cfg)
            model.load_state_dict(load_file(folder / "model.safetensors"))
        except (OSError, ValueError, TypeError, RuntimeError, json.JSONDecodeError) as exc:
            raise DiveBenchError(f"could not load the feature-extractor classifier from {folder} ({exc}); "
                                 "retrain it with `dive-bench train feature-extractor --out DIR`") from exc
        return model.eval()
