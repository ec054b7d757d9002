"""Generative metrics beside DIVE: FID, IS, KID and precision/recall from the same adapter.

Named ``generative`` (not ``fidelity``) so that ``dive_bench.fidelity`` stays the API function:
importing a sub-package binds its name on the parent package, which would shadow the function.

- ``sampling``: which samples a run draws (balanced labels, per-sample seeds) and generating the
  missing ones into the cache; the sampler loop itself is ``adapters.sampling`` (``Adapter.sample``)
- ``sample_cache``: PNG samples + manifest; resumable, refuses a different configuration
- ``extractors``: Inception weights policy; in-domain classifiers registered into torch-fidelity
- ``dinov2``: FD_DINOv2 (EDM2's protocol) through a timm DINOv2 ViT, local weights checked by sha256
- ``metrics``: torch-fidelity features and metrics; FD via ``generative.fid``; reference cache
- ``resolve``: which extractor a name means (Inception, a bundled classifier, DINOv2, classifier:DIR)

The fidelity tables of the leaderboard are ``report.fidelity`` (run.json only); the
``dive-bench fidelity`` run itself is ``run.fidelity``.
"""
