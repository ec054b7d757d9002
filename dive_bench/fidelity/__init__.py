"""Generative metrics beside DIVE: FID, IS, KID and precision/recall from the same adapter.

- ``sampling``: per-sample-seeded sampling through ``Adapter.predict_noise`` (DDIM/DDPM/DPM-Solver, CFG)
- ``sample_cache``: PNG samples + manifest; resumable, refuses a different configuration
- ``extractors``: Inception weights policy; in-domain classifiers registered into torch-fidelity
- ``metrics``: torch-fidelity features and metrics; FD via ``dive_bench.fid``; reference cache
- ``run``: the ``dive-bench fidelity`` command behind the CLI (run.json)
"""
