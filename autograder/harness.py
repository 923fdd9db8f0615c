"""The two kinds of cell the grader adds to the notebook it executes.

- The harness cell (once, right after the parameters cell) defines `_shikumi_probe`.
- A probe cell (after each answer cell) calls `_shikumi_probe("<grade_id>")`: it reads that exercise's
  inputs, written by the grader as plain-data JSON, calls the learner's function on each (or, for kind
  "module", builds the learner's nn.Module, loads the given weights and runs it), and writes what
  came back as plain data, one file per exercise, rewritten after every case, so an answer that hangs or
  crashes the kernel still leaves the cases before it.
"""

from __future__ import annotations

import json

HARNESS = r'''
def _shikumi_probe(grade_id, _io_dir={io_dir!r}):
    import json as _json, os as _os, time as _time, traceback as _tb
    from autograder.plain import decode as _decode, encode as _encode
    with open(_os.path.join(_io_dir, "inputs", grade_id + ".json"), encoding="utf-8") as f:
        spec = _json.load(f)
    out_path = _os.path.join(_io_dir, "outputs", grade_id + ".json")
    record = {{"grade_id": grade_id, "ran": True, "cases": []}}

    def save():
        tmp = out_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            _json.dump(record, f)
        _os.replace(tmp, out_path)

    target = globals().get(spec["name"], _shikumi_probe)
    # The library's own solution of this exercise: wrapped while the learner's code runs, to notice a call.
    import functools as _ft, importlib as _il
    used, traps = [], []
    for dotted in spec.get("references", []):
        module_name, _, attr_path = dotted.partition(":")
        owner = _il.import_module(module_name)
        *parents, attr = attr_path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        original = getattr(owner, attr)
        if any(value is original for value in list(globals().values())):
            used.append(dotted)  # imported into the notebook under some name
        def _trap(*a, _original=original, _dotted=dotted, **k):
            used.append(_dotted)
            return _original(*a, **k)
        traps.append((owner, attr, original, _ft.wraps(original)(_trap)))
    for case in spec["cases"]:
        result = {{"started": True}}
        record["cases"].append(result)
        save()  # a case that never finishes stays "started": the grader reports a time-out
        start = _time.perf_counter()
        for owner, attr, _original, trap in traps:
            setattr(owner, attr, trap)
        try:
            if target is _shikumi_probe:
                raise NameError(f"name {{spec['name']!r}} is not defined")
            if spec["kind"] == "call":
                value = target(*_decode(case["args"]), **dict(_decode(case["kwargs"])))
            elif spec["kind"] == "module":  # build the learner's nn.Module, give it known weights, run it
                import torch as _torch
                module = target(*_decode(case["args"]), **dict(_decode(case["kwargs"])))
                if case.get("state") is not None:
                    module.load_state_dict(dict(_decode(case["state"])))
                module.eval()
                with _torch.no_grad():
                    value = module(*_decode(case["inputs"]))
            else:
                value = target
            result["value"] = _encode(value)
        except Exception as e:
            result["error"] = type(e).__name__
            result["message"] = str(e)[:500]
            result["where"] = "".join(_tb.format_exception_only(type(e), e))[-500:]
        finally:
            for owner, attr, original, _trap in traps:
                setattr(owner, attr, original)
        result["used_reference"] = sorted(set(used))
        result["seconds"] = round(_time.perf_counter() - start, 4)
        result["started"] = False
        save()
'''


def harness_source(io_dir: str) -> str:
    return HARNESS.format(io_dir=io_dir).strip() + "\n"


def probe_source(grade_id: str) -> str:
    return f"_shikumi_probe({json.dumps(grade_id)})\n"
