"""`make bench`: measure the course on this machine and write benchmarks/results.md.

    python -m benchmarks.run [--batch 30] [--sections lessons,grader,models]

1. every lesson's solution under papermill: wall time and peak memory, against the budget (120 s, 2 GB);
2. the grader: its overhead per submission over a plain papermill run of the same notebook, and a class
   of N submissions graded with 1 and with 2 workers;
3. the course's models against reference libraries, same configuration, same process (when installed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.measure import measure, run_notebook
from shikumi import release

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S, BUDGET_MB = 120, 2048


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psutil

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, GPU: {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads)")


def lessons() -> list[str]:
    rows = ["| lesson | wall time (s) | peak memory (MB) | within budget (120 s, 2 GB) |", "|---|---:|---:|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for src in release.sources(ROOT):
            m = run_notebook(src, Path(tmp) / src.name, cwd=tmp)
            ok = "yes" if m.returncode == 0 and m.seconds <= BUDGET_S and m.peak_rss_mb <= BUDGET_MB else "**no**"
            if m.returncode:
                ok += " (failed: " + m.stderr_tail.strip().splitlines()[-1][:80] + ")"
            rows.append(f"| {src.stem} | {m.seconds:.1f} | {m.peak_rss_mb:.0f} | {ok} |")
            print(rows[-1], flush=True)
    return rows


def grader(batch: int) -> list[str]:
    shikumi = [sys.executable, "-m", "shikumi.cli", "grade"]
    rows = ["| lesson | papermill alone (s) | `shikumi grade` (s) | overhead (s) |", "|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for src in release.sources(ROOT):
            plain = run_notebook(src, tmp / f"plain-{src.name}", cwd=tmp)
            sub = tmp / "one" / src.name
            sub.parent.mkdir(exist_ok=True)
            shutil.copy(src, sub)
            graded = measure([*shikumi, str(sub), "--out", str(tmp / f"grades-{src.stem}")], cwd=tmp)
            rows.append(f"| {src.stem} | {plain.seconds:.1f} | {graded.seconds:.1f} | "
                        f"{graded.seconds - plain.seconds:+.1f} |")
            print(rows[-1], flush=True)
        first = release.sources(ROOT)[0]
        cls = tmp / "class"
        cls.mkdir()
        for i in range(batch):
            shutil.copy(first, cls / f"learner{i:02d}.ipynb")
        rows += ["", f"A class of {batch} submissions of {first.stem} (complete solutions):", "",
                 "| workers | wall time (s) | per submission (s) |", "|---:|---:|---:|"]
        for workers in (1, 2):
            m = measure([*shikumi, str(cls), "--out", str(tmp / f"class-{workers}"), "--workers", str(workers)],
                        cwd=tmp)
            rows.append(f"| {workers} | {m.seconds:.1f} | {m.seconds / batch:.1f} |")
            print(rows[-1], flush=True)
    return rows


def timed(fn, repeat: int = 10) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def models() -> list[str]:
    rows = ["| what | course | reference | ratio (course / reference) |", "|---|---:|---:|---:|"]
    rows += _attention_rows()
    for extra in (_gpt_rows,):
        try:
            rows += extra()
        except ImportError as e:
            rows.append(f"| {extra.__name__[1:-5]} | – | – | not available yet ({e}) |")
    return rows


def _attention_rows() -> list[str]:
    import torch.nn.functional as F

    from shikumi.attention import MultiHeadAttention, scaled_dot_product_attention

    torch.manual_seed(0)
    B, H, T, d = 8, 8, 128, 32
    q, k, v = (torch.randn(B, H, T, d) for _ in range(3))
    ref = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), 50)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    fast = timed(lambda: scaled_dot_product_attention(q, k, v, mask=mask), 50)
    math = timed(lambda: scaled_dot_product_attention(q, k, v, mask=mask, need_weights=True), 50)
    x = torch.randn(B, T, H * d)
    ours = MultiHeadAttention(H * d, H)
    theirs = torch.nn.MultiheadAttention(H * d, H, batch_first=True)
    with torch.no_grad():
        mha = timed(lambda: ours(x, mask=mask), 20)
        ref_mha = timed(lambda: theirs(x, x, x, attn_mask=~mask, need_weights=False), 20)
    ms = 1000
    return [
        f"| attention, fused path (B={B}, heads={H}, T={T}, d={d}), ms | {fast * ms:.2f} | {ref * ms:.2f} (torch SDPA) | {fast / ref:.2f} |",
        f"| attention, explicit math path, ms | {math * ms:.2f} | {ref * ms:.2f} (torch SDPA) | {math / ref:.2f} |",
        f"| multi-head attention forward, ms | {mha * ms:.2f} | {ref_mha * ms:.2f} (nn.MultiheadAttention) | {mha / ref_mha:.2f} |",
    ]


def _gpt_rows() -> list[str]:
    """One training step (forward + backward) of the course GPT and of transformers' GPT-2, same config."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from shikumi.gpt import GPT, GPTConfig

    cfg = GPTConfig(vocab_size=65, block_size=128, n_layer=4, n_head=4, d_model=128)
    ours = GPT(cfg)
    theirs = GPT2LMHeadModel(GPT2Config(vocab_size=65, n_positions=128, n_layer=4, n_head=4, n_embd=128,
                                        resid_pdrop=0, embd_pdrop=0, attn_pdrop=0))
    theirs.config._attn_implementation = "sdpa"
    idx = torch.randint(0, 65, (8, 128))

    def step_ours():
        logits = ours(idx)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), idx.flatten()).backward()

    def step_theirs():
        theirs(idx, labels=idx).loss.backward()

    a, b = timed(step_ours, 10), timed(step_theirs, 10)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for p in theirs.parameters())
    return [f"| GPT train step (4 layers, d=128, batch 8×128; {n_ours:,} vs {n_theirs:,} params), ms | "
            f"{a * 1000:.1f} | {b * 1000:.1f} (transformers GPT2LMHeadModel) | {a / b:.2f} |"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=30, help="submissions in the class batch (default 30)")
    parser.add_argument("--sections", default="lessons,grader,models")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    out = [f"# Benchmarks — {dt.date.today().isoformat()}", "",
           f"Machine: {machine()}. Commit {git.stdout.strip() or '?'}. Produced by `make bench`.", ""]
    if "lessons" in sections:
        out += ["## Lessons (solution notebooks, papermill, SIZE=quick)", "", *lessons(), ""]
    if "grader" in sections:
        out += ["## Grader", "", *grader(args.batch), ""]
    if "models" in sections:
        out += ["## Models against reference libraries (CPU, same process)", "", *models(), ""]
    Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
