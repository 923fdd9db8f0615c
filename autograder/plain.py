"""Plain data across the process boundary: what a learner's function returned, as JSON.

`encode` runs inside the learner's kernel and turns a return value into JSON-able data with a few tags
(tuples, Counters, dicts with non-string keys, arrays). `decode` turns it back into ordinary Python objects,
NumPy arrays and torch tensors (in the grader's limited checking process for what came back; in the kernel for
the check inputs). Nothing is ever unpickled, so a submission cannot run code in the grader.

Both directions are bounded: `encode` (inside the run) turns at most MAX_ELEMENTS numbers and strings into
plain data, and `decode` (in the grader) refuses data nested deeper than MAX_DEPTH, larger than MAX_ELEMENTS,
dtypes that are not plain numbers, and shapes that do not match their data — whatever a run sends.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

MAX_DEPTH = 50
MAX_ELEMENTS = 2_000_000  # numbers, strings and containers in one value
MAX_STRING = 100_000      # characters of one string
DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"}


class TooBig(ValueError):
    pass


class _Budget:
    """How many more elements one value may have."""

    def __init__(self):
        self.left = MAX_ELEMENTS

    def take(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise TooBig(f"more than {MAX_ELEMENTS:,} elements")


def encode(obj: Any) -> Any:
    """A return value as plain data (runs inside the learner's kernel)."""
    return _encode(obj, 0, _Budget())


def _encode(obj: Any, depth: int, budget: _Budget) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    budget.take()

    def inner(x):
        return _encode(x, depth + 1, budget)

    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        return obj[:MAX_STRING]
    if isinstance(obj, int):
        return obj if abs(obj) < 2**53 else {"__int__": str(obj)}
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {"__float__": repr(float(obj))}  # np.float64 too
    if isinstance(obj, tuple):
        return {"__tuple__": [inner(x) for x in obj]}
    if isinstance(obj, list):
        return [inner(x) for x in obj]
    if isinstance(obj, Counter):
        return {"__counter__": [[inner(k), inner(v)] for k, v in obj.items()]}
    if isinstance(obj, dict):
        return {"__dict__": [[inner(k), inner(v)] for k, v in obj.items()]}
    if isinstance(obj, (set, frozenset)):
        return {"__set__": [inner(x) for x in obj]}
    array = _as_numpy(obj)
    if array is not None:
        if str(array.dtype) not in DTYPES:
            return {"__unsupported__": f"array of {array.dtype}", "repr": repr(tuple(array.shape))[:200]}
        budget.take(int(array.size))
        return {"__array__": {"kind": type(obj).__module__.split(".")[0], "dtype": str(obj.dtype),
                              "shape": list(array.shape), "data": array.ravel().tolist()}}
    if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "shape", None) == ():
        return inner(obj.item())  # a NumPy scalar
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
    """Plain data as Python objects again; ValueError for anything that is not plain data within the bounds."""
    return _decode(data, 0, _Budget())


def _decode(data: Any, depth: int, budget: _Budget) -> Any:
    if depth > MAX_DEPTH + 2:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    budget.take()

    def inner(x):
        return _decode(x, depth + 1, budget)

    if isinstance(data, list):
        return [inner(x) for x in data]
    if isinstance(data, str):
        return data[:MAX_STRING]
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"not plain data: {type(data).__name__}")
    if len(data) == 1 or "__unsupported__" in data:
        if "__tuple__" in data:
            return tuple(inner(x) for x in _list(data["__tuple__"]))
        if "__counter__" in data:
            return Counter({_hashable(inner(k)): inner(v) for k, v in _pairs(data["__counter__"])})
        if "__dict__" in data:
            return {_hashable(inner(k)): inner(v) for k, v in _pairs(data["__dict__"])}
        if "__set__" in data:
            return {_hashable(inner(x)) for x in _list(data["__set__"])}
        if "__float__" in data:
            return float(str(data["__float__"])[:40])
        if "__int__" in data:
            return int(str(data["__int__"])[:4000])  # Python itself refuses longer decimal strings
        if "__array__" in data:
            return _array(data["__array__"], budget)
        if "__unsupported__" in data:
            return Unsupported(str(data["__unsupported__"])[:200], str(data.get("repr", ""))[:200])
    raise ValueError(f"not plain data: {str(data)[:100]}")


def _list(x) -> list:
    if not isinstance(x, list):
        raise ValueError("not plain data: a list was expected")
    return x


def _pairs(x) -> list:
    if not all(isinstance(p, list) and len(p) == 2 for p in _list(x)):
        raise ValueError("not plain data: pairs were expected")
    return x


def _array(a: dict, budget: _Budget):
    """A NumPy array or a torch tensor again, with its shape and dtype (bf16/fp16 travel as float32)."""
    import numpy as np

    if not isinstance(a, dict) or str(a.get("dtype")).removeprefix("torch.") not in DTYPES:
        raise ValueError(f"not a plain array: dtype {str(a.get('dtype') if isinstance(a, dict) else a)[:40]!r}")
    shape, data = a.get("shape"), a.get("data")
    if not (isinstance(shape, list) and len(shape) <= 32 and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise ValueError("not a plain array: bad shape")
    if not isinstance(data, list) or math.prod(shape) != len(data):
        raise ValueError("not a plain array: the data does not fill the shape")
    if not all(isinstance(x, (int, float)) for x in data):
        raise ValueError("not a plain array: data that are not numbers")
    budget.take(len(data))
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
