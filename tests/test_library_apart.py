"""The learner's library (everything under shikumi but shikumi.course) never imports the course's tooling nor
the grader: a lesson, a recipe or a model pulls in neither `shikumi.course` nor `autograder`.

Two ways to look: a fresh interpreter imports every library module and says which one brought either in (an
import at the top of a module), and every `import` statement of the library is read (one inside a function
runs only when called, as `LiveTraining` once read the language from the self-checks)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import shikumi

LIBRARY = Path(shikumi.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[1]   # where `autograder` is
FORBIDDEN = ("autograder", "shikumi.course")
# The child imports the modules one by one and names the first one after which a forbidden module is loaded.
CHILD = """
import importlib, json, sys
forbidden = tuple(sys.argv[1].split(","))
def loaded():
    return sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden))
for name in sys.argv[2:]:
    importlib.import_module(name)
    if loaded():
        print(json.dumps([name, loaded()]))
        break
else:
    print(json.dumps(None))
"""


def library_modules() -> list[str]:
    """shikumi.* module names from the files, without importing anything (nor `__main__`, the command)."""
    names = []
    for path in sorted(LIBRARY.rglob("*.py")):
        rel = path.relative_to(LIBRARY).with_suffix("")
        if rel.parts[0] == "course" or rel.name == "__main__":
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(("shikumi", *parts)))
    return names


def first_offender(modules: list[str], path: list[str]) -> list | None:
    """[module, the forbidden modules loaded once it was imported] for the first such module, else None."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, ",".join(FORBIDDEN), *modules], capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def imported_names(path: Path, library: Path = LIBRARY) -> set[str]:
    """Every module an `import` or `from … import` anywhere in the file names (relative imports resolved)."""
    package = ["shikumi", *path.relative_to(library).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)   # from shikumi import course
    return names


def forbidden_imports(path: Path, library: Path = LIBRARY) -> list[str]:
    return sorted(n for n in imported_names(path, library)
                  if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))


def test_importing_the_library_pulls_in_neither_the_course_nor_the_grader():
    modules = library_modules()
    assert {"shikumi.gpt", "shikumi.train", "shikumi.live", "shikumi.lang"} <= set(modules)
    assert not any(m.startswith("shikumi.course") for m in modules)
    assert first_offender(modules, [str(LIBRARY.parent), str(ROOT)]) is None


def test_no_library_module_imports_them_even_inside_a_function():
    offenders = {f"{p.relative_to(LIBRARY)}: {forbidden_imports(p)}" for p in sorted(LIBRARY.rglob("*.py"))
                 if p.relative_to(LIBRARY).parts[0] != "course" and p.name != "__main__.py" and forbidden_imports(p)}
    assert not offenders


def test_a_module_that_imports_the_grader_is_named(tmp_path):
    """Both checks fail on a module that imports the grader or the self-checks (they are not vacuous)."""
    (tmp_path / "innocent.py").write_text("import json\n", encoding="utf-8")
    (tmp_path / "grades.py").write_text("import autograder.checks\n", encoding="utf-8")
    (tmp_path / "checks_itself.py").write_text("from shikumi.course.selfcheck import expect\n", encoding="utf-8")
    path = [str(tmp_path), str(LIBRARY.parent), str(ROOT)]
    name, loaded = first_offender(["innocent", "grades"], path)
    assert name == "grades" and "autograder" in loaded
    name, loaded = first_offender(["innocent", "checks_itself"], path)
    assert name == "checks_itself" and "shikumi.course.selfcheck" in loaded

    fake = tmp_path / "shikumi"
    fake.mkdir()
    (fake / "live.py").write_text("def f():\n    from shikumi.course import selfcheck\n\n"
                                  "def g():\n    from . import course\n", encoding="utf-8")
    assert forbidden_imports(fake / "live.py", fake) == ["shikumi.course", "shikumi.course.selfcheck"]
