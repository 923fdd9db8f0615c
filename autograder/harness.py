"""The cells the grader adds to the notebook it executes: a watch at the top, and a guard and a probe after
each answer cell.

- The **watch** (first cell, before any learner code runs) keeps what the later cells need, as the kernel
  had it at start: `sys.setprofile`, the display publisher, the event callbacks IPython itself registered,
  and the *fingerprints* of the library's own solutions (file, line, bytecode, constants and names of
  each code object), taken before a learner could replace them. It keeps them in a module under a random
  name, so a probe can find them and nothing in the kernel carries a grader's name.
- A **guard** (before each probe) removes the event callbacks the learner's code added (a `pre_run_cell` hook
  would see the probe's inputs; a `post_run_cell` hook could rewrite its outputs) and starts watching for
  the library's solution: from then until the probe ends, any Python code whose fingerprint is one of them
  — however it was reached: a default argument, `__wrapped__`, a module reloaded from its file, a thread —
  is reported at once, as a message that cannot be taken back.
- A **probe** calls the learner's function on each case (or builds the learner's nn.Module, loads the given
  weights and runs it) and shows each result as a display message of its own MIME type. The runner
  (execute.py) takes these only from the guard and probe cells of that exercise, and the grader keeps the
  first message of each case.

The inputs travel inside the probe cell itself, so they exist in the kernel only once the checks begin.
The probe's code runs in a namespace of its own (`exec`) and `execute.py` keeps the grader's cells out of
the kernel's history. What stays possible or detectable is listed in docs/instructor-guide.md.
"""

from __future__ import annotations

import json
import secrets

GRADER_TAG = "grader"  # on the cells the grader adds; execute.py keeps them out of the kernel's history
PROBE_MIME = "application/x-shikumi-probe+json"  # the same in execute.py

# The watch's code: runs first, in a namespace of its own.
WATCH = r'''
import hashlib, importlib, inspect, sys, threading, types


def fingerprint(code):
    parts = [code.co_filename, str(code.co_firstlineno), code.co_code.hex(), repr(code.co_names)]
    for const in code.co_consts:
        try:  # repr of a constant can fail (an int of more than 4300 digits)
            parts.append(fingerprint(const) if isinstance(const, types.CodeType) else repr(const)[:200])
        except Exception:
            parts.append(type(const).__name__)
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def code_objects(obj):  # the code objects of a function, or of every function defined in a class
    obj = inspect.unwrap(obj) if callable(obj) and not isinstance(obj, type) else obj
    if isinstance(obj, type):
        found = []
        for value in vars(obj).values():
            value = getattr(value, "__func__", value)
            value = value.fget if isinstance(value, property) else value
            if isinstance(value, types.FunctionType):
                found += code_objects(value)
        return found
    code = getattr(obj, "__code__", None)
    return [code] if isinstance(code, types.CodeType) else []


def resolve(dotted):
    module_name, _, attr_path = dotted.partition(":")
    owner = importlib.import_module(module_name)
    parents, attr = attr_path.split(".")[:-1], attr_path.split(".")[-1]
    for part in parents:
        owner = getattr(owner, part)
    return owner, attr


watch = types.ModuleType(NAME)
watch.setprofile, watch.getprofile, watch.thread_setprofile = sys.setprofile, sys.getprofile, threading.setprofile
ip = get_ipython()
watch.ip, watch.publish = ip, ip.display_pub.publish
watch.callbacks = {event: list(cbs) for event, cbs in ip.events.callbacks.items()}
watch.prints = {}    # grade_id: {fingerprint: "module:qualname"}
watch.originals = {}  # "module:qualname": (owner, attr, the library's own object)
for grade_id, references in REFERENCES.items():
    prints = watch.prints.setdefault(grade_id, {})
    for dotted in references:
        try:
            owner, attr = resolve(dotted)
            original = getattr(owner, attr)
        except Exception:
            continue
        watch.originals[dotted] = (owner, attr, original)
        for code in code_objects(original):
            prints[fingerprint(code)] = dotted
watch.fingerprint = fingerprint
watch.active = None
sys.modules[NAME] = watch
'''

# The guard's code: the learner's event callbacks go, the watch for the library's solution starts.
GUARD = r'''
import sys

watch = sys.modules[NAME]
ip = watch.ip
for event, cbs in ip.events.callbacks.items():
    cbs[:] = [cb for cb in cbs if cb in watch.callbacks.get(event, [])]
prints, seen, known = watch.prints.get(GRADE_ID, {}), set(), {}


def hook(frame, event, arg):  # runs inside the kernel's own code too: it must never raise
    if event != "call":
        return
    try:
        code = frame.f_code
        dotted = known.get(code)
        if dotted is None:
            dotted = known[code] = prints.get(watch.fingerprint(code), "")
        if dotted and dotted not in seen:
            seen.add(dotted)
            watch.publish(data={MIME: {"flag": dotted}}, metadata={})
    except BaseException:
        pass


watch.active = hook if prints else None
watch.setprofile(watch.active)
watch.thread_setprofile(watch.active)
'''

# The probe's code: the cases, run one by one, each result shown as it comes.
PROBE = r'''
import importlib, importlib.util, json, sys, time, traceback

watch = sys.modules[NAME]


def load_plain(path):  # plain.py, kept out of sys.modules: the kernel sees no grader module
    spec = importlib.util.spec_from_file_location("plain", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def show(record):
    watch.publish(data={MIME: record}, metadata={})


def probe(spec, user_ns):
    try:
        run_cases(spec, user_ns)
    finally:  # whatever happened, the watch ends with the probe
        watch.setprofile(None)
        watch.thread_setprofile(None)


def run_cases(spec, user_ns):
    plain = load_plain(PLAIN)
    show({"ran": True, "cases": len(spec["cases"])})
    missing = object()
    target = user_ns.get(spec["name"], missing)
    for dotted in spec.get("references", []):
        original = watch.originals.get(dotted, (None, None, missing))[2]
        if any(value is original for value in list(user_ns.values())):
            show({"flag": dotted})  # imported into the notebook under some name

    def watching(on):
        watch.setprofile(watch.active if on else None)
        watch.thread_setprofile(watch.active if on else None)

    for i, case in enumerate(spec["cases"]):
        show({"case": i, "started": True})
        watching(True)
        start = time.perf_counter()
        result = {"case": i}
        try:
            if target is missing:
                raise NameError(f"name {spec['name']!r} is not defined")
            args = tuple(plain.decode(case["args"]))
            kwargs = dict(plain.decode(case["kwargs"]))
            if spec["kind"] == "call":
                if case.get("build"):  # a trained model, built by the library, not watched
                    module_name, _, function = case["build"].partition(":")
                    watching(False)
                    args = (getattr(importlib.import_module(module_name), function)(), *args)
                    watching(True)
                value = target(*args, **kwargs)
            elif spec["kind"] == "module":  # build the learner's nn.Module, give it known weights, run it
                import torch
                module = target(*args, **kwargs)
                if case.get("state") is not None:
                    module.load_state_dict(dict(plain.decode(case["state"])))
                module.eval()
                with torch.no_grad():
                    value = module(*plain.decode(case["inputs"]))
            else:
                value = target
            if watch.active is not None and watch.getprofile() is not watch.active:
                show({"flag": "switched off the watch (sys.setprofile)"})
            watching(False)
            result["value"] = plain.encode(value)
        except BaseException as e:
            watching(False)
            if isinstance(e, KeyboardInterrupt):  # the cell's time is up: the runner interrupted it
                raise
            result["error"] = type(e).__name__
            result["message"] = str(e)[:500]
        result["seconds"] = round(time.perf_counter() - start, 4)
        show(result)
    watching(False)
'''

CELL = '''exec(r"""{code}
{call}
""", {{"__builtins__": __builtins__, "get_ipython": get_ipython, "user_ns": globals(), {names}}})
'''


def new_watch_name() -> str:
    """A module name for this run's watch: random, and nothing a grader would be called."""
    return "_" + secrets.token_hex(6)


def _cell(code: str, call: str = "", **names) -> str:
    values = ", ".join(f'"{k}": __import__("json").loads({json.dumps(v, ensure_ascii=False)!r})'
                       for k, v in names.items())
    return CELL.format(code=code.strip("\n"), call=call, names=values)


def watch_source(name: str, references: dict[str, list[str]]) -> str:
    """The first cell: what the guards and probes need, kept before any learner code runs."""
    return _cell(WATCH, NAME=name, REFERENCES=references)


def guard_source(name: str, grade_id: str) -> str:
    return _cell(GUARD, NAME=name, GRADE_ID=grade_id, MIME=PROBE_MIME)


def probe_source(name: str, spec: dict, plain_path: str) -> str:
    """The probe cell for one exercise, its inputs (`spec`: plain data) inside it."""
    return _cell(PROBE, "probe(SPEC, user_ns)", NAME=name, MIME=PROBE_MIME, PLAIN=plain_path, SPEC=spec)
