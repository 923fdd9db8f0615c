"""Plain data across the process boundary: what a learner's function returned, as JSON.

`encode` runs inside the learner's kernel and turns a return value into JSON-able data with a few tags
(tuples, Counters, dicts with non-string keys, arrays). `decode` turns it back into ordinary Python objects,
NumPy arrays and torch tensors (in the grader for what came back; in the kernel for the check inputs). Nothing is ever unpickled, so a submission cannot run code in the grader.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any


def encode(obj: Any, _depth: int = 0) -> Any:
    if _depth > 50:
        raise ValueError("nested more than 50 levels deep")
    d = _depth + 1
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj if abs(obj) < 2**53 else {"__int__": str(obj)}
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {"__float__": repr(float(obj))}  # np.float64 too
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(x, d) for x in obj]}
    if isinstance(obj, list):
        return [encode(x, d) for x in obj]
    if isinstance(obj, Counter):
        return {"__counter__": [[encode(k, d), encode(v, d)] for k, v in obj.items()]}
    if isinstance(obj, dict):
        return {"__dict__": [[encode(k, d), encode(v, d)] for k, v in obj.items()]}
    if isinstance(obj, (set, frozenset)):
        return {"__set__": [encode(x, d) for x in obj]}
    array = _as_numpy(obj)
    if array is not None:
        return {"__array__": {"kind": type(obj).__module__.split(".")[0], "dtype": str(obj.dtype),
                              "shape": list(array.shape), "data": array.ravel().tolist()}}
    if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "shape", None) == ():
        return encode(obj.item(), d)  # a NumPy scalar
    return {"__unsupported__": type(obj).__qualname__, "repr": repr(obj)[:200]}


def _as_numpy(obj):
    """A NumPy copy of a NumPy array or a torch tensor (any device, any dtype), else None."""
    module = type(obj).__module__
    if module.startswith("numpy") and hasattr(obj, "shape") and obj.shape != ():
        return obj
    if module.startswith("torch") and type(obj).__name__ in ("Tensor", "Parameter"):
        import torch

        t = obj.detach().cpu()
        return (t.float() if t.dtype in (torch.float16, torch.bfloat16) else t).numpy()  # NumPy has no bf16
    return None


class Unsupported:
    """A value the learner returned that has no plain-data form (a function, a model…): reported, never run."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


def decode(data: Any) -> Any:
    if isinstance(data, list):
        return [decode(x) for x in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1 or "__unsupported__" in data:
        if "__tuple__" in data:
            return tuple(decode(x) for x in data["__tuple__"])
        if "__counter__" in data:
            return Counter({_hashable(decode(k)): decode(v) for k, v in data["__counter__"]})
        if "__dict__" in data:
            return {_hashable(decode(k)): decode(v) for k, v in data["__dict__"]}
        if "__set__" in data:
            return {_hashable(decode(x)) for x in data["__set__"]}
        if "__float__" in data:
            return float(data["__float__"])
        if "__int__" in data:
            return int(data["__int__"])
        if "__array__" in data:
            return _array(data["__array__"])
        if "__unsupported__" in data:
            return Unsupported(str(data["__unsupported__"]), str(data.get("repr", "")))
    raise ValueError(f"not plain data: {str(data)[:100]}")


def _array(a: dict):
    """A NumPy array or a torch tensor again, with its shape and dtype (bf16/fp16 travel as float32)."""
    import numpy as np

    if a["kind"] == "torch":
        import torch

        dtype = getattr(torch, str(a["dtype"]).removeprefix("torch."), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown torch dtype {a['dtype']!r}")
        return torch.tensor(a["data"], dtype=torch.float64 if dtype.is_floating_point else dtype
                            ).reshape(a["shape"]).to(dtype)
    return np.asarray(a["data"], dtype=np.dtype(a["dtype"])).reshape(a["shape"])


def _hashable(x):
    return tuple(_hashable(v) for v in x) if isinstance(x, list) else x
