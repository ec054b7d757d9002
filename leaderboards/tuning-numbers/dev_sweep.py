"""DIVE settings on a dev split (tuning only, never the test images): accuracy, evaluations per
image, and why each miss happened (issue 14).

usage: python leaderboards/tuning-numbers/dev_sweep.py MODEL TASK N|START:END TAG [field=value ...]
e.g.   python leaderboards/tuning-numbers/dev_sweep.py dit-numbers-1000 numbers-1000-dev 100 v30 \
           probes_per_step=1 steps=100 monitor_every=10 lr=0.1 verify=30

Appends one JSON line to results.jsonl beside this file. A miss is a *model* miss when the true
class scores no better than the chosen one on all probes (exhaustive enumeration would miss it
too), else a *search* miss (DIVE never scored the true class: it was not visited or verified).
"""
import json
import sys
import time
from pathlib import Path

import torch
torch.set_num_threads(1)
from dive_bench.adapters import load_model
from dive_bench.data.base import to_model_range
from dive_bench.inversion import ProbeSet, invert
from dive_bench.inversion.probes import chunked_errors
from dive_bench.spec.configs import DiveConfig, to_flat
from dive_bench.tasks import TASKS
from dive_bench.util.seeding import item_seed

def main(model, task, span, tag, **cfg):
    start, end = (int(v) for v in span.split(":")) if ":" in span else (0, int(span))
    a = load_model(model); task_ = TASKS.get(task); data = task_.load(None)
    ids = list(range(start, end)); n = len(ids); y = [task_.target(data, i) for i in ids]
    x0 = a.encode(to_model_range(data.images[ids]))
    cfg = DiveConfig.of(**{"interval": 100, **cfg})
    probes = ProbeSet.build(tuple(x0.shape[1:]), interval=cfg.interval, seed=cfg.probe_seed)
    t0 = time.time(); res = []
    for s in range(0, n, 25):
        res += invert(a, x0[s:s+25], probes, cfg, [item_seed(0, task, i) for i in ids[s:s+25]])
    wall = time.time() - t0
    vocab = a.vocabulary["class"]
    # true-class enumeration score (analysis only): search failure vs model failure
    trip = torch.tensor([(i, y[i], j) for i in range(n) for j in range(len(probes))])
    true = torch.zeros(n)
    for part, err in chunked_errors(a, x0, vocab.unsqueeze(1), trip, probes, 1000, cfg.loss, cfg.weighting):
        true.index_add_(0, part[:, 0], err.float() / len(probes))
    acc = sum(r.labels[0] == t for r, t in zip(res, y)) / n
    visited = sum(any(v[0] == t for v in r.visited) for r, t in zip(res, y)) / n
    model_fail = sum(r.labels[0] != t and bool(true[i] >= r.best_monitor - 1e-7) for i, (r, t) in enumerate(zip(res, y))) / n
    out = {"tag": tag, "model": model, "task": task, "n": n, "start": start, "config": to_flat(cfg),
           "acc": acc, "evals": sum(r.evaluations for r in res) / n, "visited_true": visited,
           "miss_model": model_fail, "miss_search": 1 - acc - model_fail, "sec_per_img": wall / n,
           "steps_run": sum(r.steps_run for r in res) / n}
    print(json.dumps(out))
    with open(Path(__file__).with_name("results.jsonl"), "a") as f:
        f.write(json.dumps(out) + "\n")

if __name__ == "__main__":
    model, task, n, tag = sys.argv[1:5]
    kw = {}
    for s in sys.argv[5:]:
        k, v = s.split("=")
        kw[k] = None if v == "None" else (float(v) if "." in v else int(v) if v.lstrip("-").isdigit() else v)
    main(model, task, n, tag, **kw)
