"""Tiny in-process models for tests and benchmarks (here and in plugin packages): no downloads."""

from __future__ import annotations

import torch

from dive_bench.models.class_dit import DiTPreset, build_class_dit, label_table

TINY = DiTPreset(heads=2, head_dim=8, depth=2, patch=2)


def make_dit(num_classes: int = 5, tied: bool = True, learn_sigma: bool = False, seed: int = 0,
             in_channels: int = 1, sample_size: int = 8):
    torch.manual_seed(seed)
    model = build_class_dit(TINY, num_classes=num_classes, sample_size=sample_size, in_channels=in_channels,
                            learn_sigma=learn_sigma, tied=tied)
    # Random (untrained) weights everywhere, including the zero-initialised adaLN and output
    # layers, so a wrong injection cannot hide behind zeros.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        if not tied:
            for block in model.transformer_blocks:
                label_table(block).weight.normal_(std=0.3)
    return model.eval()


def make_unet(num_classes: int = 5, seed: int = 0):
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                       layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4, num_class_embeds=num_classes)
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return unet.eval()


def train_tiny(parameterization=None, *, steps: int = 300, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
               preset: DiTPreset | str = "xs", dataset: str = "digits"):
    """A class-conditional DiT trained in-process on 8x8 digits for ``steps`` with the plain MSE
    of ``parameterization`` (its ``train_times`` and ``train_target``; default eps-DDPM), returned
    as a ``DiTAdapter`` declaring that parameterization: the tiny model of each family the tests
    score and sample. Deterministic for a seed; no EMA, no label dropout (no guidance)."""
    from dive_bench.adapters.parameterization import NoiseSchedule
    from dive_bench.adapters.dit import DiTAdapter
    from dive_bench.adapters.parameterization import DDPM
    from dive_bench.data import DATASETS
    from dive_bench.data.base import to_model_range
    from dive_bench.models.class_dit import disable_internal_label_dropout

    from diffusers import DDPMScheduler

    schedule = NoiseSchedule(DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").alphas_cumprod.float())
    param = parameterization if parameterization is not None else DDPM(schedule)
    data = DATASETS.get(dataset)("train")
    x_all, y_all = to_model_range(data.images), data.labels
    c, h, _ = data.image_shape
    torch.manual_seed(seed)
    model = build_class_dit(preset, num_classes=data.num_classes, sample_size=h, in_channels=c)
    disable_internal_label_dropout(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        idx = torch.randint(len(y_all), (batch_size,), generator=g)
        x0, y = x_all[idx], y_all[idx]
        t = param.train_times(batch_size, g)
        noise = torch.randn(x0.shape, generator=g)
        x_in, t_in = param.model_inputs(param.add_noise(x0, noise, t), t)
        out = model(x_in, timestep=t_in, class_labels=y).sample[:, :c]
        loss = torch.nn.functional.mse_loss(out, param.train_target(x0, noise, t))
        for group in opt.param_groups:  # short linear warm-up, then constant
            group["lr"] = lr * min(1.0, (step + 1) / 50)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return DiTAdapter(model.eval(), schedule=schedule, parameterization=param, class_names=data.class_names,
                      name=f"tiny-{param.kind}", null_row=False)
