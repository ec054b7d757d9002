"""FID / IS / KID / precision-recall of uint8 samples against a uint8 reference set.

Features come from torch-fidelity's extractors (``inception-v3-compat`` or a registered
in-domain classifier) run over plain uint8 datasets; IS, KID and precision/recall are
torch-fidelity's own functions on those features. The Frechet distance's statistics step is
``dive_bench.generative.fid`` (exact trace term from two symmetric eigendecompositions) instead of
``scipy.linalg.sqrtm``, which dominates the cost at 2048 dims.

Reference features (and their mean/covariance) are cached under
``$DIVE_BENCH_CACHE`` (default ``~/.cache/dive_bench``)``/fidelity/``, keyed by a content hash
of the reference images AND the sha256 of the extractor's weights file: torch-fidelity's own
cache key ignores the weights, so new weights would silently reuse old statistics.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dive_bench.errors import DiveBenchError
from dive_bench.generative.fid import frechet_distance, gaussian_stats
from dive_bench.generative.extractors import Extractor, network

CACHE_VERSION = 1


def check_uint8_images(images: torch.Tensor) -> None:
    """One DiveBenchError unless ``images`` is a uint8 (N, 1|3, H, W) tensor."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise DiveBenchError(f"fidelity metrics need uint8 (N, 1|3, H, W) images, got {images.dtype} "
                             f"{tuple(images.shape)}")


class UInt8Images(Dataset):
    """uint8 (N, C, H, W) images served as 3xHxW uint8 tensors (grayscale repeated), as
    torch-fidelity's extractors expect (what torch-fidelity's own loaders get; :func:`extract_features`
    slices batches itself)."""

    def __init__(self, images: torch.Tensor) -> None:
        check_uint8_images(images)
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = self.images[i]
        return x.expand(3, *x.shape[1:]).contiguous() if x.shape[0] == 1 else x


def cache_dir(path: str | Path | None = None) -> Path:
    """Reference statistics live under the cache root (checked: one line for a file or an unwritable place)."""
    from dive_bench.util.cache import cache_root

    return cache_root(path) / "fidelity"


def images_sha256(images: torch.Tensor) -> str:
    """Content hash of a uint8 image set (shape and bytes, in order)."""
    h = hashlib.sha256(repr(tuple(images.shape)).encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()


def uint8_batches(images: torch.Tensor, batch_size: int, device: torch.device):
    """Consecutive (B, 3, H, W) uint8 batches of ``images`` on ``device``, as torch-fidelity's
    extractors take them. Batches are slices of the tensor (no per-image Python, no collate); on
    CUDA each slice is copied from pinned memory without blocking, and grayscale is repeated to
    3 channels on the device (a third of the bytes cross the bus)."""
    cuda = device.type == "cuda"
    for s in range(0, len(images), batch_size):
        x = images[s:s + batch_size]
        if cuda:
            x = x.pin_memory().to(device, non_blocking=True)
        yield x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x.contiguous()


def extract_features(images: torch.Tensor, extractor: Extractor, *, batch_size: int = 64,
                     device: torch.device | str = "cpu", progress: bool = False) -> dict[str, torch.Tensor]:
    """{feature layer: (N, D), logits layer: (N, K)} float tensors on the CPU.

    The extractor sees the batches torch-fidelity's ``get_featuresdict_from_dataset`` would give it
    (same values, same order); features stay on the device until the end (one copy back, no
    per-batch synchronisation)."""
    from tqdm import tqdm

    check_uint8_images(images)
    device = torch.device(device)
    fe = network(extractor, device)
    batch_size = max(1, min(batch_size, len(images)))
    parts: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad(), tqdm(disable=not progress, leave=False, unit="samples", total=len(images),
                               desc="Processing samples") as bar:
        for x in uint8_batches(images, batch_size, device):
            for k, v in fe.convert_features_tuple_to_dict(fe(x)).items():
                parts.setdefault(k, []).append(v)
            bar.update(len(x))
    return {k: torch.cat(v).float().cpu() for k, v in parts.items()}


def reference_features(images: torch.Tensor, extractor: Extractor, *, cache: str | Path | None = None,
                       batch_size: int = 64, device: torch.device | str = "cpu", progress: bool = False,
                       use_cache: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(features, mu, sigma, from_cache) of the reference set, cached atomically by content and
    weights hash."""
    key = hashlib.sha256(f"{CACHE_VERSION}/{extractor.name}/{extractor.feature_layer}/{extractor.weights_sha256}/"
                         f"{images_sha256(images)}".encode()).hexdigest()
    path = cache_dir(cache) / f"ref-{extractor.name}-{key[:24]}.npz"
    if use_cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return z["features"], z["mu"], z["sigma"], True
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a corrupt cache entry is recomputed, never trusted
    feats = extract_features(images, extractor, batch_size=batch_size, device=device, progress=progress)
    f = feats[extractor.feature_layer].numpy()
    mu, sigma = gaussian_stats(f)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
        try:
            np.savez(tmp, features=f, mu=mu, sigma=sigma)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # caching is an optimisation: a full disk must not fail the run
    return f, mu, sigma, False


def frechet_distance_features(gen: np.ndarray, ref: np.ndarray, ref_stats: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Frechet distance between Gaussian fits of two (N, D) feature sets.

    With both sets larger than D, the statistics step is ``dive_bench.generative.fid`` (exact trace term
    from symmetric eigendecompositions of D x D matrices). When a set has N <= D samples its
    covariance has rank < D, and the same quantity is computed exactly and far cheaper in sample
    space: with centred, scaled features A (n1 x D) and B (n2 x D), S1 = A'A and S2 = B'B, the
    nonzero eigenvalues of S1 S2 are the squared singular values of A B' (n1 x n2), so
    tr((S1 S2)^1/2) is the nuclear norm of A B'. (Such an FID is biased: N is reported beside it.)
    """
    (n1, d), n2 = np.shape(gen), len(ref)
    if min(n1, n2) > d:  # the reference enters through its cached statistics alone (no float64 copy)
        mu2, s2 = ref_stats if ref_stats is not None else gaussian_stats(ref)
        mu1, s1 = gaussian_stats(gen)
        return frechet_distance(mu1, s1, mu2, s2)
    gen = np.asarray(gen, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    mu1, mu2 = gen.mean(0), ref.mean(0)
    a = (gen - mu1) / np.sqrt(n1 - 1)
    b = (ref - mu2) / np.sqrt(n2 - 1)
    trace_sqrt = float(np.linalg.svd(a @ b.T, compute_uv=False).sum())
    diff = mu1 - mu2
    return float(diff @ diff + (a * a).sum() + (b * b).sum() - 2 * trace_sqrt)


#: seed of the resamples behind ``compute_metrics(bootstrap=B)`` (stored beside the replicates)
BOOTSTRAP_SEED = 0


def bootstrap_replicates(gen_f: np.ndarray, logits: torch.Tensor | None, ref_f: np.ndarray,
                         ref_stats: tuple[np.ndarray, np.ndarray] | None, *, n_boot: int, splits: int,
                         rng_seed: int, seed: int = BOOTSTRAP_SEED) -> dict[str, list[float]]:
    """``n_boot`` replicates of FD and IS, each over N generated samples drawn with replacement.

    Why at run time: ``dive-bench compare`` puts an interval on how well DIVE orders models as FD
    does, and a model's FD varies with the N samples it happened to draw; run.json keeps no
    per-sample features to resample later, so the run resamples them while they are in memory.
    The reference set (shared by every model compared) stays fixed. KID, precision and recall get
    half-sample replicates instead (:func:`half_sample_replicates`: the duplicates of a resample
    with replacement sit at distance 0 and bias k-NN radii). Replicate FDs sit about tr(cov)/N
    above the full-sample value (repeated samples); ``compare`` and ``check`` re-centre them.
    Deterministic for a ``seed``: replicate b resamples the same indices for any run with the same
    seed and N, which is what lets ``check`` pair two runs' replicates."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    rng = np.random.default_rng(seed)
    n = len(gen_f)
    fd, isc = [], []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        fd.append(float(frechet_distance_features(gen_f[idx], ref_f, ref_stats)))
        if logits is not None:  # no logits (DINOv2): FD replicates only
            score = isc_features_to_metric(logits[torch.from_numpy(idx)], splits=splits, shuffle=True,
                                           rng_seed=rng_seed)
            isc.append(float(score["inception_score_mean"]))
    return {"fid": fd, "is": isc} if logits is not None else {"fid": fd}


#: how the replicates of KID and precision/recall are drawn (stored as ``bootstrap_scheme``; FD and IS
#: replicates, stored before schemes were named, carry none: with replacement, N of N)
HALF_SAMPLE = "half-sample"


def half_sample_indices(n: int, n_boot: int, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(n_boot, n // 2) sorted indices: replicate b is a subset of n // 2 of the n generated samples
    drawn WITHOUT replacement by its own generator, seeded by (``seed``, b). Why per-replicate
    generators: replicate b is then the same subset for any run with the same seed and N, whatever
    number of replicates either run stored, so two runs' replicates pair index by index."""
    return np.stack([np.sort(np.random.default_rng([seed, b]).choice(n, n // 2, replace=False))
                     for b in range(n_boot)])


def _poly_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """torch-fidelity's KID kernel (cubic, gamma = 1/D, coef0 = 1)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def half_sample_kid(gen: torch.Tensor, ref: torch.Tensor, subsets: np.ndarray, block: int = 1024) -> list[float]:
    """Per half-sample S: the unbiased MMD^2 of the generated S against the whole reference,
    mean_{i != j in S} k(g_i, g_j) + mean_{j != l} k(r_j, r_l) - 2 mean_{i in S, j} k(g_i, r_j).
    The Gram matrices are reduced block by block (``Z`` holds the subsets as indicator columns), so
    memory stays O(block x max(N, n_ref)) whatever N."""
    n, n_ref = len(gen), len(ref)
    z = torch.zeros(n, len(subsets), dtype=gen.dtype)
    z[torch.from_numpy(subsets), torch.arange(len(subsets))[:, None]] = 1.0
    kz, row_ref, diag = torch.empty_like(z), torch.empty(n, dtype=gen.dtype), torch.empty(n, dtype=gen.dtype)
    for s in range(0, n, block):
        k = _poly_kernel(gen[s:s + block], gen)
        kz[s:s + block] = k @ z
        diag[s:s + block] = torch.diagonal(k, s)
        row_ref[s:s + block] = sum(_poly_kernel(gen[s:s + block], ref[t:t + block]).sum(1)
                                   for t in range(0, n_ref, block)) / n_ref
    ref_sum = sum(float(_poly_kernel(ref[t:t + block], ref).sum()) for t in range(0, n_ref, block))
    ref_diag = float((((ref * ref).sum(1) / ref.shape[1] + 1.0) ** 3).sum())
    ref_term = (ref_sum - ref_diag) / (n_ref * (n_ref - 1))
    m = subsets.shape[1]
    gen_term = ((z * kz).sum(0) - (z * diag[:, None]).sum(0)) / (m * (m - 1))
    cross = (z * row_ref[:, None]).sum(0) / m
    return [float(v) for v in gen_term + ref_term - 2 * cross]


def half_sample_prc(gen: torch.Tensor, ref: torch.Tensor, subsets: np.ndarray, k: int,
                    block: int = 1024) -> tuple[list[float], list[float]]:
    """Per half-sample S: torch-fidelity's precision and recall (k-NN balls, ``<=``) of the
    generated S against the whole reference. Precision is a mean over generated samples of a test
    against the reference's own balls, so it is computed once per sample; recall's generated balls
    are the k-NN radii within S (what a run of N/2 samples would have)."""
    n, n_ref = len(gen), len(ref)
    ref_radius = torch.cat([torch.cdist(ref[t:t + block], ref).kthvalue(k + 1, dim=1).values
                            for t in range(0, n_ref, block)])
    inside = torch.cat([(torch.cdist(gen[s:s + block], ref) <= ref_radius).any(1) for s in range(0, n, block)])
    precision = [float(inside[torch.from_numpy(idx)].double().mean()) for idx in subsets]
    covered = torch.zeros(len(subsets), n_ref, dtype=torch.bool)
    radius = torch.full((len(subsets), n), -math.inf, dtype=gen.dtype)  # -inf: not in the half-sample
    gen_d = torch.cdist(gen, gen) if n <= 8192 else None
    for b, idx in enumerate(subsets):
        sel = torch.from_numpy(idx)
        d = gen_d[sel][:, sel] if gen_d is not None else torch.cdist(gen[sel], gen[sel])
        radius[b, sel] = d.kthvalue(k + 1, dim=1).values
    # a reference image is covered in replicate b when some generated i of S lies within radius[b, i];
    # only the (reference, generated) pairs within the largest radius any replicate gives i can be,
    # so those pairs are found once and tested per replicate (the balls are small: recall is low)
    widest = radius.max(0).values
    for t in range(0, n_ref, block):
        d = torch.cdist(ref[t:t + block], gen)  # (block, n)
        ref_j, gen_i = (d <= widest).nonzero(as_tuple=True)
        dist = d[ref_j, gen_i]
        for c in range(0, len(dist), 1 << 16):
            hit_b, hit_p = (dist[c:c + (1 << 16)] <= radius[:, gen_i[c:c + (1 << 16)]]).nonzero(as_tuple=True)
            covered[hit_b, t + ref_j[c:c + (1 << 16)][hit_p]] = True
    return precision, [float(c) / n_ref for c in covered.sum(1)]


def half_sample_replicates(gen_f: np.ndarray, ref_f: np.ndarray, *, n_boot: int, k: int,
                           seed: int = BOOTSTRAP_SEED) -> dict[str, list[float]]:
    """``n_boot`` replicates of KID, precision and recall over half-samples of the generated set
    drawn WITHOUT replacement (:func:`half_sample_indices`), the reference whole and fixed.

    Why half-samples and not the bootstrap FD and IS use: a resample with replacement repeats
    samples, the repeats sit at distance 0 and shrink every k-NN radius (biasing precision and
    recall), and a repeated sample pairs with itself in KID's off-diagonal kernel sum. Without
    replacement nothing repeats. Why half: for a mean over samples, the spread of the half-sample
    value around the full-sample value has the variance of the full-sample value itself
    (var/m * (1 - m/N) = var/N at m = N/2, the delete-N/2 jackknife), so replicates need no
    rescaling; precision is such a mean exactly, KID (a U-statistic) to first order, recall's radii
    are those of N/2 samples (its replicates sit above the full-sample value; readers re-centre
    them, as they do FD's). Two runs with the same seed and N use the same subsets, so replicate b
    of one and replicate b of the other form a paired difference (``dive-bench check``)."""
    subsets = half_sample_indices(len(gen_f), n_boot, seed)
    # distances in the features' own precision, as torch-fidelity's precision/recall compute them (a
    # ball's edge is a <= test); the kernel sums of KID in float64
    precision, recall = half_sample_prc(torch.from_numpy(np.asarray(gen_f)), torch.from_numpy(np.asarray(ref_f)),
                                        subsets, k)
    kid = half_sample_kid(torch.from_numpy(np.asarray(gen_f, dtype=np.float64)),
                          torch.from_numpy(np.asarray(ref_f, dtype=np.float64)), subsets)
    return {"kid": kid, "precision": precision, "recall": recall}


@dataclass
class MetricOptions:
    isc_splits: int = 10
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    prc_neighborhood: int = 3
    rng_seed: int = 2020


def compute_metrics(generated: torch.Tensor, reference: torch.Tensor, extractor: Extractor, *,
                    options: MetricOptions | None = None, cache: str | Path | None = None, batch_size: int = 64,
                    device: torch.device | str = "cpu", progress: bool = False, use_cache: bool = True,
                    bootstrap: int = 0) -> dict:
    """Metrics named by the extractor (``fid`` or ``fd_fmnist``, ...), each ``{"value", ...}``,
    plus ``_timing`` (extraction seconds) and ``_reference`` (hash, cache hit). ``bootstrap`` > 0
    adds ``bootstrap`` (replicates, see :func:`bootstrap_replicates`) and ``bootstrap_seed`` to FD
    and IS, and half-sample replicates (``bootstrap_scheme: "half-sample"``) to KID, precision and
    recall; the values themselves do not change."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    o = options or MetricOptions()
    n_gen, n_ref = len(generated), len(reference)
    if n_gen < 2 or n_ref < 2:
        raise DiveBenchError(f"need at least 2 generated and 2 reference images (got {n_gen} and {n_ref})")
    t0 = time.perf_counter()
    gen = extract_features(generated, extractor, batch_size=batch_size, device=device, progress=progress)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_f, ref_mu, ref_sigma, hit = reference_features(reference, extractor, cache=cache, batch_size=batch_size,
                                                       device=device, progress=progress, use_cache=use_cache)
    t_ref = time.perf_counter() - t0
    gen_f = gen[extractor.feature_layer].numpy()
    t0 = time.perf_counter()
    fd = frechet_distance_features(gen_f, ref_f, (ref_mu, ref_sigma))
    t_fd = time.perf_counter() - t0
    names = extractor.metric_names
    dim = gen_f.shape[1]
    common = {"n_generated": n_gen, "n_reference": n_ref, "extractor": extractor.name}
    out: dict = {names["fid"]: {"value": fd, "feature_dim": dim, "rank_deficient": min(n_gen, n_ref) <= dim, **common}}
    splits = min(o.isc_splits, max(1, n_gen // 2))  # a split of one sample has IS = 1 by definition
    if "is" in names:  # extractors without logits (DINOv2) report FD only
        isc = isc_features_to_metric(gen[extractor.logits_layer], splits=splits, shuffle=True, rng_seed=o.rng_seed)
        out[names["is"]] = {"value": isc["inception_score_mean"], "std": isc["inception_score_std"], "splits": splits,
                            **common}
    if bootstrap > 0:
        reps = bootstrap_replicates(gen_f, gen.get(extractor.logits_layer), ref_f, (ref_mu, ref_sigma),
                                    n_boot=bootstrap, splits=splits, rng_seed=o.rng_seed)
        for family, values in reps.items():
            if family in names:
                out[names[family]].update(bootstrap=values, bootstrap_seed=BOOTSTRAP_SEED)
    if "kid" in names:
        _kid_and_prc(out, names, gen_f, ref_f, o, common, bootstrap)
    out["_timing"] = {"feature_seconds_generated": t_gen, "feature_seconds_reference": t_ref,
                      "reference_from_cache": hit, "fd_statistics_seconds": t_fd,
                      "feature_images_per_second": n_gen / t_gen if t_gen > 0 else None}
    out["_reference"] = {"images_sha256": images_sha256(reference), "n": n_ref, "from_cache": hit}
    return out


def kid_metric(gen_f: np.ndarray, ref_f: np.ndarray, o: MetricOptions) -> tuple[dict, int]:
    """torch-fidelity's KID of the features (cubic kernel, ``o``'s subsets), and the subset size used."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    subset = min(o.kid_subset_size, len(gen_f), len(ref_f))
    return kid_features_to_metric(torch.from_numpy(gen_f), torch.from_numpy(ref_f), kid_subsets=o.kid_subsets,
                                  kid_subset_size=subset, rng_seed=o.rng_seed, verbose=False,
                                  kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                                  kid_kernel_poly_coef0=1), subset


def prc_metric(gen_f: np.ndarray, ref_f: np.ndarray, o: MetricOptions) -> tuple[dict, int]:
    """torch-fidelity's precision and recall of the features (generated = input 1), and the k used."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    k = min(o.prc_neighborhood, len(gen_f) - 1, len(ref_f) - 1)
    return prc_features_to_metric(torch.from_numpy(gen_f), torch.from_numpy(ref_f), prc_neighborhood=k,
                                  prc_batch_size=10000, save_cpu_ram=True, verbose=False), k


def _kid_and_prc(out: dict, names: dict, gen_f: np.ndarray, ref_f: np.ndarray, o: MetricOptions, common: dict,
                 bootstrap: int = 0) -> None:
    """KID and precision/recall (torch-fidelity's functions on our features) into ``out``, with
    ``bootstrap`` half-sample replicates of each (:func:`half_sample_replicates`) when > 0."""
    n_gen = len(gen_f)
    kid, subset = kid_metric(gen_f, ref_f, o)
    out[names["kid"]] = {"value": kid["kernel_inception_distance_mean"], "std": kid["kernel_inception_distance_std"],
                         "subsets": o.kid_subsets, "subset_size": subset, **common}
    prc, k = prc_metric(gen_f, ref_f, o)
    out[names["precision"]] = {"value": prc["precision"], "k": k, **common}
    out[names["recall"]] = {"value": prc["recall"], "k": k, **common}
    if bootstrap > 0 and n_gen >= 4:  # a half-sample of 2 has one pair for KID and one neighbour
        reps = half_sample_replicates(gen_f, ref_f, n_boot=bootstrap, k=min(k, n_gen // 2 - 1))
        for family, values in reps.items():
            out[names[family]].update(bootstrap=values, bootstrap_seed=BOOTSTRAP_SEED, bootstrap_scheme=HALF_SAMPLE)
