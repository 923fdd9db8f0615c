"""The one training loop and the one checkpoint format."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from shikumi import checkpoint
from shikumi.train import TrainConfig, lr_at, make_optimizer, train


def test_learning_rate_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(max_steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)            # 1/10 of the way up
    assert lr_at(9, cfg) == pytest.approx(1e-3)            # the peak
    assert lr_at(55, cfg) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half-way down the cosine
    assert lr_at(100, cfg) == pytest.approx(1e-4)          # the floor
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 100))


def test_weight_decay_applies_to_matrices_only():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    groups = make_optimizer(model, TrainConfig(weight_decay=0.1)).param_groups
    assert [len(g["params"]) for g in groups] == [1, 3] and [g["weight_decay"] for g in groups] == [0.1, 0.0]


class Line(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Linear(1, 1)


def _regression():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 64)[:, None]
    y = 3 * x - 0.5

    def get_batch(split):
        return x, y

    def loss_fn(model, batch):
        inputs, targets = batch
        return torch.nn.functional.mse_loss(model.w(inputs), targets)

    return get_batch, loss_fn


def test_training_fits_a_line_and_records_its_history():
    get_batch, loss_fn = _regression()
    model = Line()
    seen = []
    history = train(model, get_batch, loss_fn, TrainConfig(max_steps=300, lr=0.1, warmup_steps=5, eval_every=100,
                                                           eval_steps=1, progress=False, weight_decay=0.0),
                    on_eval=lambda step, loss: seen.append(step))
    assert history.train_loss[-1] < 1e-3 < history.train_loss[0]
    assert history.eval_step == [100, 200, 299] == seen
    assert model.w.weight.item() == pytest.approx(3, abs=0.05) and not model.training


def test_max_seconds_stops_early_with_a_final_evaluation():
    get_batch, loss_fn = _regression()
    history = train(Line(), get_batch, loss_fn, TrainConfig(max_steps=10**6, max_seconds=0.5, progress=False,
                                                            eval_every=0, eval_steps=1))
    assert len(history.step) < 10**6 and history.eval_step == [history.step[-1]]


@dataclasses.dataclass
class TinyConfig:
    vocab: int = 7
    width: int = 4


class Tied(torch.nn.Module):
    def __init__(self, cfg: TinyConfig):
        super().__init__()
        self.embed = torch.nn.Embedding(cfg.vocab, cfg.width)
        self.head = torch.nn.Linear(cfg.width, cfg.vocab, bias=False)
        self.head.weight = self.embed.weight  # tied, as in GPT


def test_checkpoint_round_trip_with_tied_weights_and_checksum(tmp_path):
    model = Tied(TinyConfig())
    checkpoint.save(model, TinyConfig(), tmp_path / "tiny")
    digest = checkpoint.record_checksum("tiny", tmp_path)
    assert digest in (tmp_path / "SHA256SUMS").read_text()
    loaded = checkpoint.load(Tied, TinyConfig, tmp_path / "tiny.safetensors")
    assert torch.equal(loaded.embed.weight, model.embed.weight)
    assert loaded.head.weight is loaded.embed.weight  # still tied after loading
    assert checkpoint.verify("tiny", tmp_path).name == "tiny.safetensors"


def test_a_damaged_checkpoint_is_refused_with_a_clear_message(tmp_path):
    checkpoint.save(Tied(TinyConfig()), TinyConfig(), tmp_path / "tiny")
    checkpoint.record_checksum("tiny", tmp_path)
    weights = tmp_path / "tiny.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(checkpoint.ChecksumError, match="damaged or was changed.*shikumi train tiny"):
        checkpoint.verify("tiny", tmp_path)
    with pytest.raises(FileNotFoundError, match="shikumi train nothing"):
        checkpoint.verify("nothing", tmp_path)


def test_every_shipped_checkpoint_matches_its_checksum():
    names = sorted(p.stem for p in checkpoint.SHIPPED.glob("*.safetensors"))
    for name in names:
        path = checkpoint.verify(name)
        assert path.stat().st_size <= 20 * 2**20, f"{name} is over the size limit"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bf16 autocast path)")
def test_training_on_cuda_with_bf16_autocast():
    get_batch, loss_fn = _regression()
    history = train(Line(), get_batch, loss_fn, TrainConfig(max_steps=200, lr=0.1, device="cuda", progress=False,
                                                            eval_steps=1, weight_decay=0.0))
    assert math.isfinite(history.train_loss[-1]) and history.train_loss[-1] < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.compile + bf16 path)")
def test_training_on_cuda_with_torch_compile():
    get_batch, loss_fn = _regression()
    history = train(Line(), get_batch, loss_fn, TrainConfig(max_steps=50, lr=0.1, device="cuda", progress=False,
                                                            eval_steps=1, weight_decay=0.0, compile=True))
    assert math.isfinite(history.train_loss[-1]) and history.train_loss[-1] < history.train_loss[0]


# -- several processes: torchrun, DistributedDataParallel, gloo on CPU ----------------------------------------

TORCHRUN = shutil.which("torchrun", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))

# One recipe, registered in shikumi.zoo and run by `shikumi train`'s code path (zoo.train_recipe) in
# every process. Batch n of the pool is x = rows 4n … 4n+3 of a fixed (64, 3) matrix: easy to follow.
DDP_WORKER = textwrap.dedent("""
    import dataclasses, json, os, sys
    from pathlib import Path

    import torch

    from shikumi import checkpoint, zoo
    from shikumi.train import TrainConfig, rank_and_world, train

    X = torch.linspace(-1, 1, 192).view(64, 3)
    Y = X @ torch.tensor([[2.0], [-1.0], [0.5]]) + 0.3
    CFG = TrainConfig(max_steps=12, lr=0.05, warmup_steps=1, eval_every=5, eval_steps=2, progress=True,
                      weight_decay=0.0, device=os.environ.get("WORKER_DEVICE", "cpu"))

    @dataclasses.dataclass
    class LineConfig:
        width: int = 3

    def batches():
        counter = {"train": 0, "val": 100}
        def get_batch(split):
            n = counter[split] % 16
            counter[split] += 1
            return X[4 * n: 4 * n + 4], Y[4 * n: 4 * n + 4], split, counter[split] - 1
        return get_batch

    def train_line(out_dir, size="quick", device="auto"):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        seen, draws = [], []
        def loss_fn(m, batch):
            x, y, split, n = batch
            if split == "train":
                seen.append(n)
                draws.append(torch.rand(()).item())      # the process's own random numbers
            return torch.nn.functional.mse_loss(m(x), y)
        history = train(model, batches(), loss_fn, CFG)
        rank = rank_and_world()[0]
        Path(sys.argv[1], f"rank{rank}.json").write_text(json.dumps({
            "weight": model.weight.tolist(), "bias": model.bias.tolist(), "seen": seen, "draws": draws,
            "eval_loss": history.eval_loss, "steps": history.step}))
        print(f"line: trained on rank {rank}")
        return checkpoint.save(model, LineConfig(), Path(out_dir) / "line")

    zoo.RECIPES["line"] = "__main__:train_line"
    zoo.train_recipe("line", Path(sys.argv[1]) / "shipped")
""")


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed")
@pytest.mark.parametrize("device", [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs (NCCL)"))])
def test_torchrun_two_processes_train_one_model(tmp_path, device):
    """torchrun --nproc_per_node 2 (gloo on CPUs, NCCL on GPUs): both processes end with the same weights, which
    are those of one process training on both processes' batches at once; each read every other batch; only
    rank 0 printed and saved."""
    (tmp_path / "worker.py").write_text(DDP_WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": os.environ.get("GLOO_SOCKET_IFNAME", "lo"),
           "WORKER_DEVICE": device}
    if sys.platform == "darwin":
        env["GLOO_SOCKET_IFNAME"] = "lo0"
    done = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node", "2", str(tmp_path / "worker.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["seen"] == list(range(0, 24, 2)) and ranks[1]["seen"] == list(range(1, 24, 2))
    assert ranks[0]["weight"] == ranks[1]["weight"] and ranks[0]["bias"] == ranks[1]["bias"]  # kept in sync
    assert ranks[0]["eval_loss"] == ranks[1]["eval_loss"] and len(ranks[0]["eval_loss"]) == 3   # steps 5, 10, 11
    assert ranks[0]["draws"] != ranks[1]["draws"]                                              # a seed each
    assert done.stdout.count("line: trained") == 1 and "on rank 0" in done.stdout               # rank 0 prints
    assert sorted(p.name for p in (tmp_path / "shipped").iterdir()) == ["SHA256SUMS", "line.json",
                                                                       "line.safetensors"]

    # one process reading batches 2k and 2k+1 together at step k takes the very same steps
    worker = {}
    exec(compile(DDP_WORKER.split("zoo.RECIPES")[0], "worker", "exec"), worker)
    one = worker["batches"]()

    def both(split):
        a, b = one(split), one(split)
        return torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]]), split, -1

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    history = train(model, both, lambda m, batch: torch.nn.functional.mse_loss(m(batch[0]), batch[1]),
                    dataclasses.replace(worker["CFG"], progress=False, device=device))
    tol = 1e-5 if device == "cpu" else 2e-2                      # CUDA: bf16 autocast rounds differently
    torch.testing.assert_close(model.weight.cpu(), torch.tensor(ranks[0]["weight"]), atol=tol, rtol=tol)
    torch.testing.assert_close(model.bias.cpu(), torch.tensor(ranks[0]["bias"]), atol=tol, rtol=tol)
    assert history.eval_loss == pytest.approx(ranks[0]["eval_loss"], rel=tol, abs=tol)
