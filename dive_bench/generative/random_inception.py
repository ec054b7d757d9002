"""A randomly initialised ``inception-v3-compat`` weights file, for tests and benchmarks only.

No Inception weights ship offline, yet the full torch-fidelity path (strict load of the state
dict, resizing to 299, pool3 and logits) should run in tests. Default-initialised weights collapse
the features (FID ~ 0, IS = 1); Kaiming-normal conv init keeps them informative enough to tell
image sets apart. Numbers from this file mean nothing and are never comparable with FID.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import torch


def build_random_inception_weights(path: str | Path, seed: int = 0, dtype: torch.dtype = torch.float16) -> Path:
    """Write a Kaiming-initialised inception-v3-compat state dict to ``path`` (~48 MB in fp16)."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    path = Path(path)
    torch.manual_seed(seed)
    # build the module without its weights: the constructor would otherwise download them
    with mock.patch.object(tfi, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None):
        model = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        elif isinstance(m, torch.nn.Linear):
            # large enough that logits differ between images (IS > 1), unlike a default init
            torch.nn.init.normal_(m.weight, std=0.5)
            torch.nn.init.zeros_(m.bias)
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path
