"""The cell the grader adds to the notebook it executes: a probe after each answer cell.

A probe reads that exercise's inputs, written by the grader as plain-data JSON, calls the learner's function
on each (or, for kind "module", builds the learner's nn.Module, loads the given weights and runs it), and
writes what came back as plain data, one file per exercise, rewritten after every case, so an answer that
hangs or crashes the kernel still leaves the cases before it.

The learner's code should not be able to tell that it is being graded, so a probe leaves no name behind:
its code runs in a namespace of its own (`exec`), it loads `plain.py` without an entry in `sys.modules`, and
`autograder.execute` runs it without storing it in the kernel's history (`In`, `_ih`, execution counts).
What stays detectable is listed in docs/instructor-guide.md.
"""

from __future__ import annotations

import json
from pathlib import Path

GRADER_TAG = "grader"  # on the cells the grader adds; autograder.execute keeps them out of the kernel's history

# The probe's code. It is pasted into a r"""…""" string in the cell: no triple double quotes in here.
PROBE = r'''
import functools, importlib, importlib.util, json, os, time, traceback


def load_plain(path):  # autograder/plain.py, kept out of sys.modules: the kernel sees no grader module
    spec = importlib.util.spec_from_file_location("plain", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def probe(grade_id, io_dir, plain_path, user_ns):
    plain = load_plain(plain_path)
    with open(os.path.join(io_dir, "inputs", grade_id + ".json"), encoding="utf-8") as f:
        spec = json.load(f)
    out_path = os.path.join(io_dir, "outputs", grade_id + ".json")
    record = {"grade_id": grade_id, "ran": True, "cases": []}

    def save():
        tmp = out_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, out_path)

    missing = object()
    target = user_ns.get(spec["name"], missing)
    # The library's own solution of this exercise: wrapped while the learner's code runs, to notice a call.
    used, traps = [], []
    for dotted in spec.get("references", []):
        module_name, _, attr_path = dotted.partition(":")
        owner = importlib.import_module(module_name)
        *parents, attr = attr_path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        original = getattr(owner, attr)
        if any(value is original for value in list(user_ns.values())):
            used.append(dotted)  # imported into the notebook under some name
        def trap(*a, _original=original, _dotted=dotted, **k):
            used.append(_dotted)
            return _original(*a, **k)
        traps.append((owner, attr, original, functools.wraps(original)(trap)))
    for case in spec["cases"]:
        result = {"started": True}
        record["cases"].append(result)
        save()  # a case that never finishes stays "started": the grader reports a time-out
        start = time.perf_counter()
        for owner, attr, _original, wrapped in traps:
            setattr(owner, attr, wrapped)
        try:
            if target is missing:
                raise NameError(f"name {spec['name']!r} is not defined")
            if spec["kind"] == "call":
                args = tuple(plain.decode(case["args"]))
                if case.get("build"):  # a trained model, built here by the library: plain data cannot carry it
                    module_name, _, function = case["build"].partition(":")
                    args = (getattr(importlib.import_module(module_name), function)(), *args)
                value = target(*args, **dict(plain.decode(case["kwargs"])))
            elif spec["kind"] == "module":  # build the learner's nn.Module, give it known weights, run it
                import torch
                module = target(*plain.decode(case["args"]), **dict(plain.decode(case["kwargs"])))
                if case.get("state") is not None:
                    module.load_state_dict(dict(plain.decode(case["state"])))
                module.eval()
                with torch.no_grad():
                    value = module(*plain.decode(case["inputs"]))
            else:
                value = target
            result["value"] = plain.encode(value)
        except Exception as e:
            result["error"] = type(e).__name__
            result["message"] = str(e)[:500]
            result["where"] = "".join(traceback.format_exception_only(type(e), e))[-500:]
        finally:
            for owner, attr, original, _wrapped in traps:
                setattr(owner, attr, original)
        result["used_reference"] = sorted(set(used))
        result["seconds"] = round(time.perf_counter() - start, 4)
        result["started"] = False
        save()
'''

CELL = '''exec(r"""{code}
probe({grade_id}, {io_dir}, {plain_path}, user_ns)
""", {{"__builtins__": __builtins__, "user_ns": globals()}})
'''


def probe_source(grade_id: str, io_dir: str) -> str:
    """The probe cell for one exercise: the probe's code and its call, run in a namespace of their own."""
    plain_path = str(Path(__file__).resolve().parent / "plain.py")
    return CELL.format(code=PROBE.rstrip(), grade_id=json.dumps(grade_id), io_dir=json.dumps(io_dir),
                       plain_path=json.dumps(plain_path))
