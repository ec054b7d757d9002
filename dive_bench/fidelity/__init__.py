"""Generative metrics beside DIVE: FID, IS, KID and precision/recall from the same adapter.

- ``sampling``: which samples a run draws (balanced labels, per-sample seeds) and generating the
  missing ones into the cache; the sampler loop itself is ``adapters.sampling`` (``Adapter.sample``)
- ``sample_cache``: PNG samples + manifest; resumable, refuses a different configuration
- ``extractors``: Inception weights policy; in-domain classifiers registered into torch-fidelity
- ``dinov2``: FD_DINOv2 (EDM2's protocol) through a timm DINOv2 ViT, local weights checked by sha256
- ``metrics``: torch-fidelity features and metrics; FD via ``fidelity.fid``; reference cache
- ``report``: fidelity tables for the leaderboard (run.json only)
- ``run``: the ``dive-bench fidelity`` command behind the CLI (run.json)
"""
