"""A fidelity run split across workers (``fidelity --shard K/N``, torchrun's RANK/WORLD_SIZE):
bit-identical samples and identical metrics for 1, 2 and 3 workers, one worker computing the
metrics, ``merge`` on the folder, a killed worker resumed without losing or repeating samples,
and a worker of another protocol refused before it samples.

Model: the bundled dit-fmnist-s (60k parameters); reference: the 500-image Fashion-MNIST slice
under tests/data; extractor: the bundled fmnist-classifier; 30 samples of 5 DDIM steps.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from cli_checks import cli_error
from dive_bench.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SLICE = ROOT / "tests" / "data" / "fmnist-slice"
N = 30
FIDELITY = ["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--data-root", str(SLICE), "--feature-extractor",
            "fmnist-classifier", "--num-samples", str(N), "--sampler-steps", "5", "--sample-batch", "4", "--quiet",
            "--threads", "1"]


def sample_hashes(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "samples").glob("*.png"))}


def numbers(out: Path) -> tuple:
    run = json.loads((out / "run.json").read_text())
    return run["run_key"], run["metrics"], run["n_items"]


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("fid") / "w1"
    with threadpool_limits(limits=1):  # FD's matrix square root rounds by BLAS thread count: one, as the subprocesses
        assert main([*FIDELITY, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("workers", [2, 3])
def test_any_worker_count_gives_the_same_samples_and_metrics(one_worker, tmp_path, workers, capsys):
    out = tmp_path / f"w{workers}"
    for k in range(workers):
        with threadpool_limits(limits=1):
            assert main([*FIDELITY, "--shard", f"{k}/{workers}", "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        if k < workers - 1:  # every worker but the last leaves the metrics to the others
            assert "this worker's share is sampled" in printed and not (out / "run.json").exists()
            assert len(sample_hashes(out)) == sum(len(range(j, N, workers)) for j in range(k + 1))
    assert sample_hashes(out) == sample_hashes(one_worker)
    assert len(sample_hashes(out)) == N
    assert numbers(out) == numbers(one_worker)


def test_merge_computes_the_metrics_once_the_workers_are_done(one_worker, tmp_path, capsys):
    out = tmp_path / "m"
    assert main([*FIDELITY, "--shard", "0/2", "--out", str(out)]) == 0
    err = cli_error(capsys, ["merge", str(out)])
    assert f"{N // 2} of {N} samples are missing" in err and "--shard K/N" in err
    assert not (out / "run.json").exists()
    # the second worker finishes the samples (and, being last, the metrics); its run.json is removed
    # so that merge computes them again from the folder alone
    with threadpool_limits(limits=1):
        assert main([*FIDELITY, "--shard", "1/2", "--out", str(out)]) == 0
    first = json.loads((out / "run.json").read_text())
    (out / "run.json").unlink()
    with threadpool_limits(limits=1):
        assert main(["merge", str(out)]) == 0
    assert numbers(out) == numbers(one_worker) == (first["run_key"], first["metrics"], N)


def _env(rank: int, world: int) -> dict:
    env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return env


def test_concurrent_workers_from_torchrun_variables(one_worker, tmp_path):
    """Two processes at once, sharded by RANK/WORLD_SIZE as torchrun sets them: one run.json, the
    1-worker numbers; the manifest counts every sample once."""
    out = tmp_path / "tr"
    procs = [subprocess.Popen([sys.executable, "-m", "dive_bench", *FIDELITY, "--out", str(out)], env=_env(r, 2),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("results:" in o for o, _ in outs) == 1  # exactly one worker computed the metrics
    assert sample_hashes(out) == sample_hashes(one_worker)
    assert numbers(out) == numbers(one_worker)
    assert json.loads((out / "samples" / "manifest.json").read_text())["generated"] == N


def test_a_killed_worker_resumes_without_losing_or_repeating_samples(tmp_path):
    """SIGKILL a worker once it has committed a batch; a rerun completes the run with exactly the
    samples an uninterrupted run makes (same --sample-batch: see test_sample_batch_can_round)."""
    slow = [*FIDELITY[:FIDELITY.index("--sampler-steps") + 1], "50", *FIDELITY[FIDELITY.index("--sampler-steps") + 2:]]
    reference = tmp_path / "ref"
    with threadpool_limits(limits=1):
        assert main([*slow, "--out", str(reference)]) == 0
    out = tmp_path / "kill"
    proc = subprocess.Popen([sys.executable, "-m", "dive_bench", *slow, "--out", str(out)], env=_env(0, 1), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and len(list((out / "samples").glob("*.png"))) < 4:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = sample_hashes(out)
    assert 4 <= len(before) < N, "the worker was killed mid-sampling"
    expected = sample_hashes(reference)
    assert all(expected[name] == digest for name, digest in before.items())  # what it committed is final
    with threadpool_limits(limits=1):
        assert main([*slow, "--out", str(out)]) == 0
    assert sample_hashes(out) == expected
    run = json.loads((out / "run.json").read_text())
    assert run["timings"]["generated_this_invocation"] == N - len(before)  # nothing made twice
    assert numbers(out) == numbers(reference)


def test_sample_batch_can_round():
    """Why the tests above keep --sample-batch fixed: the same sample made in a batch of 1 or of 4
    may differ by one grey level in a pixel (batched matmuls round differently), which moves FD in
    its 5th digit. Workers of one run should use one --sample-batch for bit-identical samples."""
    import torch

    from dive_bench.adapters import load_model
    from dive_bench.generative.sampling import balanced_labels, sample_seed

    adapter = load_model("dit-fmnist-s")
    idx = list(range(8))
    together = adapter.sample(balanced_labels(idx, 10), steps=5, guidance_scale=1.0, seeds=[sample_seed(0, i) for i in idx],
                              scheduler="ddim")
    alone = torch.cat([adapter.sample(balanced_labels([i], 10), steps=5, guidance_scale=1.0, seeds=[sample_seed(0, i)],
                                      scheduler="ddim") for i in idx])
    assert (together.int() - alone.int()).abs().max() <= 1


def test_a_worker_of_another_protocol_is_refused_before_sampling(tmp_path, capsys):
    out = tmp_path / "p"
    assert main([*FIDELITY, "--shard", "0/2", "--out", str(out)]) == 0
    before = sample_hashes(out)
    other_n = [*FIDELITY[:FIDELITY.index("--num-samples") + 1], "40", *FIDELITY[FIDELITY.index("--num-samples") + 2:]]
    err = cli_error(capsys, [*other_n, "--shard", "1/2", "--out", str(out)])
    assert "unfinished fidelity run of another protocol" in err and "num_samples" in err
    other_steps = [*FIDELITY[:FIDELITY.index("--sampler-steps") + 1], "6", *FIDELITY[FIDELITY.index("--sampler-steps") + 2:]]
    err = cli_error(capsys, [*other_steps, "--shard", "1/2", "--out", str(out)])
    assert "another configuration" in err and "steps" in err
    assert sample_hashes(out) == before  # nothing was sampled or removed
    err = cli_error(capsys, [*FIDELITY, "--shard", "2/2", "--out", str(out)])
    assert "out of range" in err


def test_a_finished_run_may_grow(one_worker, tmp_path):
    """After a complete run, a larger N in the same folder is a new run that reuses the samples."""
    out = tmp_path / "grow"
    assert main([*FIDELITY, "--out", str(out)]) == 0
    more = [*FIDELITY[:FIDELITY.index("--num-samples") + 1], "40", *FIDELITY[FIDELITY.index("--num-samples") + 2:]]
    assert main([*more, "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["n_items"] == 40 and run["timings"]["generated_this_invocation"] == 10
