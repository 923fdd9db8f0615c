"""One checkpoint format: weights in safetensors, the config beside them in JSON, a SHA-256 to verify.

    save(model, config, "lib/shikumi/checkpoints/gpt_shakespeare")   # writes .safetensors, .json
    model = load(GPT, GPTConfig, "gpt_shakespeare")                  # a shipped checkpoint, checksum verified

Shipped checkpoints live in `shikumi/checkpoints/`, listed with their checksums in `SHA256SUMS`, and each is
reproduced by `shikumi train NAME`. Nothing is ever downloaded, and nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

SHIPPED = Path(str(resources.files("shikumi").joinpath("checkpoints")))
SUMS = "SHA256SUMS"


class ChecksumError(RuntimeError):
    pass


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(model: torch.nn.Module, config, path: str | Path) -> Path:
    """Write path.safetensors (the weights, on CPU, contiguous) and path.json (the config dataclass)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(_untie(state), str(path.with_suffix(".safetensors")))
    path.with_suffix(".json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n", encoding="utf-8")
    return path.with_suffix(".safetensors")


def _untie(state: dict) -> dict:
    """safetensors refuses tensors that share memory (tied embeddings): keep one copy of each."""
    seen, out = {}, {}
    for k, v in state.items():
        key = (v.data_ptr(), v.shape, v.dtype)
        out[k] = v.clone() if key in seen else v
        seen.setdefault(key, k)
    return out


def record_checksum(name: str, directory: Path = SHIPPED) -> str:
    """Add or update NAME's line in SHA256SUMS (used by `shikumi train`)."""
    digest = sha256(directory / f"{name}.safetensors")
    sums_file = directory / SUMS
    lines = dict(_read_sums(sums_file))
    lines[f"{name}.safetensors"] = digest
    sums_file.write_text("".join(f"{d}  {f}\n" for f, d in sorted(lines.items())), encoding="utf-8")
    return digest


def _read_sums(sums_file: Path) -> list[tuple[str, str]]:
    if not sums_file.exists():
        return []
    pairs = []
    for line in sums_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            pairs.append((name.strip(), digest))
    return pairs


def verify(name: str, directory: Path = SHIPPED) -> Path:
    """The path of shipped checkpoint NAME, after checking its SHA-256 against SHA256SUMS."""
    path = directory / f"{name}.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"no shipped checkpoint {name!r} in {directory}; "
                                f"create it with `shikumi train {name}`")
    expected = dict(_read_sums(directory / SUMS)).get(path.name)
    if expected is None:
        raise ChecksumError(f"{path.name} has no line in {directory / SUMS}; run `shikumi train {name}`")
    actual = sha256(path)
    if actual != expected:
        raise ChecksumError(f"{path.name} is damaged or was changed: SHA-256 {actual[:12]}…, expected "
                            f"{expected[:12]}…. Restore it from git or rebuild it with `shikumi train {name}`")
    return path


def load(model_cls, config_cls, name_or_path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Build model_cls(config) from path.json and load path.safetensors into it.

    A bare name ("gpt_shakespeare") means a shipped checkpoint, verified by checksum; a path is loaded as is.
    """
    if isinstance(name_or_path, str) and "/" not in name_or_path and not name_or_path.endswith(".safetensors"):
        weights = verify(name_or_path)
    else:
        weights = Path(name_or_path).with_suffix(".safetensors")
    config = config_cls(**json.loads(weights.with_suffix(".json").read_text(encoding="utf-8")))
    model = model_cls(config)
    state = load_file(str(weights), device=str(device))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not _is_tied(model, k)]
    if missing or unexpected:
        raise RuntimeError(f"{weights.name} does not fit {model_cls.__name__}: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]}")
    return model.to(device).eval()


def save_history(history, out_dir: str | Path, name: str, **measured) -> Path:
    """NAME.history.json beside the weights: what training measured — steps, seconds, the loss curves (at most
    about 200 points of the training curve) and whatever else the recipe measured (`measured`: accuracy, MSE…)."""
    every = max(1, len(history.step) // 200)
    record = {**measured, "steps": len(history.step), "train_seconds": round(history.seconds, 1),
              "step": history.step[::every], "train_loss": [float(f"{x:.4g}") for x in history.train_loss[::every]],
              "eval_step": history.eval_step, "eval_loss": [float(f"{x:.4g}") for x in history.eval_loss]}
    path = Path(out_dir) / f"{name}.history.json"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_history(name: str, directory: str | Path | None = None) -> dict:
    """What training measured for checkpoint NAME (see save_history): shipped, or saved in `directory`."""
    folder = SHIPPED if directory is None else Path(directory)
    return json.loads((folder / f"{name}.history.json").read_text(encoding="utf-8"))


def _is_tied(model: torch.nn.Module, key: str) -> bool:
    """A parameter that is the same tensor as another one (e.g. GPT's output layer = its token embedding)."""
    params = dict(model.named_parameters(remove_duplicate=False))
    unique = dict(model.named_parameters())
    return key in params and key not in unique
