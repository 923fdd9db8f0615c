"""`shikumi gradescope LESSON -o autograder.zip`: the bundle Gradescope runs to grade one lesson.

Gradescope's autograder specification (gradescope-autograders.readthedocs.io, "Autograder Specifications"):
the zip holds `setup.sh` (run once, as root, on Ubuntu, when Gradescope builds the image) and
`run_autograder` (run for each submission, in /autograder), at its root; Gradescope unpacks the zip into
/autograder/source, puts the learner's files in /autograder/submission and reads
/autograder/results/results.json. Our zip:

    setup.sh                  apt: python3, python3-venv, bubblewrap; a venv in /opt/shikumi-venv with torch
                              (CPU build, the course's range) and requirements.txt
    run_autograder            python -m autograder.gradescope (autograder/gradescope.py), which grades the one
                              notebook in submission/ with the grader of `shikumi grade`
    requirements.txt          the course's dependencies, less what only instructors and JupyterLab need
    shikumi-gradescope.json   the lesson, the edition's language, the tests' visibility
    lib/shikumi/              the library (the lesson imports it; the hidden checks use it)
    autograder/               the grader, with the hidden checks of this lesson only
    solutions/LESSON.py       the trusted lesson the learner's answers are placed into

Nothing here is ever shown to learners: Gradescope keeps /autograder/source to itself. In a Gradescope
container, bubblewrap may be unable to start (no user namespaces); run_autograder then grades without it and
says so in every result: each submission runs in a container of its own, which is the isolation left.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from shikumi.course import release

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")   # Gradescope's words
VENV = "/opt/shikumi-venv"
CPU_WHEELS = "https://download.pytorch.org/whl/cpu"
NOT_FOR_GRADING = ("jupyterlab", "nbgrader", "tomli")  # the learner's editor, the instructor's tools
SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".DS_Store"}
CONFIG = "shikumi-gradescope.json"


class BundleError(ValueError):
    """The bundle cannot be built; the message is one sentence for the instructor."""


SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, on its Ubuntu image, when it builds the autograder (not per submission).
# It installs Python, bubblewrap (the grader's sandbox) and the course's dependencies into {venv}.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap util-linux ca-certificates
python3 -m venv {venv}
{venv}/bin/python -m pip install --upgrade pip
# PyTorch first, the CPU build (Gradescope has no GPU), in the course's supported range
{venv}/bin/python -m pip install "{torch}" --index-url {cpu}
{venv}/bin/python -m pip install -r /autograder/source/requirements.txt
{venv}/bin/python -c "import torch, papermill, ipykernel; print('torch', torch.__version__)"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in a fresh container: it grades the one notebook in
# $ROOT/submission and writes $ROOT/results/results.json. GRADESCOPE_ROOT (default /autograder) and
# SHIKUMI_PYTHON (default {venv}/bin/python) are for trying it elsewhere.
ROOT="${{GRADESCOPE_ROOT:-/autograder}}"
PYTHON="${{SHIKUMI_PYTHON:-{venv}/bin/python}}"
case "$PYTHON" in /*) ;; *) PYTHON="$PWD/$PYTHON" ;; esac
mkdir -p "$ROOT/results"
if [ ! -x "$PYTHON" ]; then
  echo "run_autograder: no Python at $PYTHON (did setup.sh fail? see the image build's log)"
  echo '{{"score": 0.0, "output": "The autograder is not installed correctly; please tell your instructor.", "tests": []}}' \\
    > "$ROOT/results/results.json"
  exit 0
fi
cd "$ROOT/source" || exit 0
export GRADESCOPE_ROOT="$ROOT" PYTHONPATH="$ROOT/source/lib:$ROOT/source"
exec "$PYTHON" -m autograder.gradescope
"""


def lesson_name(lesson: str, root: Path) -> str:
    """"01_ngram", "01" or "1" → "01_ngram"; BundleError naming the lessons otherwise."""
    names = [p.stem for p in release.sources(root)]
    if lesson in names:
        return lesson
    if re.fullmatch(r"\d{1,2}", lesson):
        found = [n for n in names if n.startswith(f"{int(lesson):02d}_")]
        if len(found) == 1:
            return found[0]
    raise BundleError(f"no lesson {lesson!r} in {root / 'solutions'} (lessons: {', '.join(names) or 'none'})")


def requirements(root: Path) -> tuple[str, str]:
    """(requirements.txt, the torch requirement) from the course's pyproject.toml."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    deps = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    torch = next((d for d in deps if re.match(r"torch\b", d)), "torch")
    kept = [d for d in deps if not any(re.match(rf"{n}\b", d, re.I) for n in NOT_FOR_GRADING)]
    return "\n".join([*kept, "ipykernel>=6"]) + "\n", torch


def build(lesson: str, out: str | Path, lang: str = "en", visibility: str = "visible",
          root: Path | None = None, timeout: int = 540) -> Path:
    """Write the autograder zip for `lesson` to `out`."""
    root = (root or release.course_root()).resolve()
    if lang not in release.LANGS:
        raise BundleError(f"--lang must be one of {', '.join(release.LANGS)}, not {lang!r}")
    if visibility not in VISIBILITIES:
        raise BundleError(f"--visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    if not 60 <= timeout <= 7200:
        raise BundleError(f"--timeout is in seconds, from 60 to 7200, not {timeout}")
    lesson = lesson_name(lesson, root)
    checks = root / "autograder" / "checks" / f"l{lesson}.py"
    if not checks.is_file():
        raise BundleError(f"lesson {lesson} has no hidden checks ({checks.relative_to(root)}): it cannot be graded")
    reqs, torch = requirements(root)
    config = {"lesson": lesson, "lang": lang, "visibility": visibility, "timeout": timeout,
              "max_score": sum(e.points for e in release.exercises(release.read_source(release.source_path(lesson, root))))}
    files: dict[str, bytes] = {
        "setup.sh": SETUP_SH.format(venv=VENV, torch=torch, cpu=CPU_WHEELS).encode(),
        "run_autograder": RUN_AUTOGRADER.format(venv=VENV).encode(),
        "requirements.txt": reqs.encode(),
        CONFIG: (json.dumps(config, indent=2) + "\n").encode(),
        f"solutions/{lesson}.py": release.source_path(lesson, root).read_bytes(),
        "autograder/checks/__init__.py": (root / "autograder" / "checks" / "__init__.py").read_bytes(),
        f"autograder/checks/l{lesson}.py": checks.read_bytes(),
    }
    for path in sorted((root / "autograder").glob("*.py")):
        files[f"autograder/{path.name}"] = path.read_bytes()
    for path in sorted((root / "lib" / "shikumi").rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not path.is_symlink() and path.suffix != ".pyc" \
                and not any(p in SKIPPED or p.startswith(".") for p in rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():  # at the zip's root, as Gradescope wants: not inside a folder
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            zf.writestr(info, data)
    tmp.replace(out)
    return out
