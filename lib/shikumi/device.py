"""One device policy and one seeding helper for every lesson.

A lesson's `parameters` cell says `DEVICE = "auto"`; `get_device("auto")` then picks a CUDA GPU if
there is one, else Apple's MPS, else the CPU. The same notebook therefore runs on a laptop and on
a GPU machine without edits. `autocast(device)` turns on bf16 mixed precision on CUDA only.
"""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch


def get_device(preference: str = "auto") -> torch.device:
    """Return the torch.device to use: "auto" → cuda, then mps, then cpu; or exactly what you ask for."""
    preference = (preference or "auto").lower()
    if preference != "auto":
        if preference.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"DEVICE={preference!r} was asked for, but this machine has no CUDA GPU. "
                               "Use DEVICE = 'auto' to fall back to the CPU.")
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a lesson gives the same numbers every run."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def autocast(device: torch.device | str):
    """Mixed precision where it pays: bf16 autocast on CUDA, a no-op context elsewhere."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def cpu_threads(n: int | None, device: torch.device | str = "cpu"):
    """Use n CPU threads inside the block (None: leave PyTorch's choice). The course's models are small: for
    matrices this small, extra threads mostly wait for each other (many times slower on a busy machine), and
    one thread gives the same numbers everywhere. No effect on a GPU."""
    if n is None or torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_cpu_thread(device: torch.device | str = "cpu"):
    """cpu_threads(1, device): the usual choice for the course's small models."""
    return cpu_threads(1, device)


def describe(device: torch.device | str, lang: str | None = None) -> str:
    """A one-line description for the top of a lesson: which device, and how many CPU threads.

    In the lesson's language (lang "en" or "ja"; by default the one the lesson gave `set_language`):
    "cpu (1 threads)" in English, "cpu（1 スレッド）" in Japanese."""
    device = torch.device(device)
    if lang is None:
        from shikumi.lang import current  # the lesson's language, set once at its top

        lang = current()
    if device.type == "cuda":
        detail = torch.cuda.get_device_name(device)
    else:
        threads = torch.get_num_threads()
        detail = f"{threads} スレッド" if lang == "ja" else f"{threads} threads"
    return f"{device.type}（{detail}）" if lang == "ja" else f"{device.type} ({detail})"
