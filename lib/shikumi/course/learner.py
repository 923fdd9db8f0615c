"""`shikumi learner-edition DIR`: the course as a learner receives it, and nothing that grades.

A clone of the repository gives a learner `solutions/` (every answer), `autograder/checks/` (the hidden checks)
and the git history. The learner edition is a folder (and, with `--zip`, a zip of it) holding only

    lessons/en, lessons/ja     the student notebooks, exactly as `shikumi release` wrote them
    lib/shikumi/               the library the lessons import, its texts and checkpoints; of `course/`, only
                               the self-checks the lessons import and the `shikumi` command (`shikumi train`),
                               not the tools that build and grade the course
    docs/glossary.md           one word per idea, in both languages
    pyproject.toml             the package `shikumi` with the lessons' dependencies (no nbgrader, no tests)
    Makefile, README.md        two commands: `make lab` and `make selftest`
    selftest.py                is this computer ready? the library, the checkpoints, lesson 01 up to its first
                               exercise
    edition.json               which course commit it was built from

Before writing, the lessons are checked to be in sync with `solutions/` (a stale lesson is refused); after
writing, every file is checked to hold no `### BEGIN SOLUTION` and no grading code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from shikumi.course import release

TEMPLATES = Path(__file__).resolve().parent / "edition"   # README.md, Makefile, selftest.py of the edition
COURSE_FOR_LEARNERS = {"__init__.py", "selfcheck.py", "cli.py"}   # of course/: what the lessons import, the
# `shikumi` command; the rest of course/ (release, present, gradescope, hub, learner, edition/) builds and grades
SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".DS_Store"}
NEVER = ("solutions", "autograder", ".git", "tests", "benchmarks")   # must not exist in an edition
MARKER = "edition.json"
LEFT_OUT_DEPENDENCIES = ("nbgrader", "tomli")            # the instructor's tools; learners do not need them


class EditionError(ValueError):
    """The edition cannot be written; the message is one sentence for the instructor."""


def build(dest: str | Path, root: Path | None = None, make_zip: bool = False) -> list[Path]:
    """Write the learner edition to `dest` (a new or empty folder, or an earlier edition, which is replaced).
    Returns what was written: the folder, and the zip beside it when `make_zip`."""
    root = (root or release.course_root()).resolve()
    dest = Path(dest).resolve()
    _refuse_unsafe_destination(dest, root)
    if not (root / "solutions").is_dir():
        raise EditionError(f"no solutions/ folder in {root}: build the learner edition from the course repository")
    problems = release.stale(root)
    if problems:
        raise EditionError(f"lessons/ is out of date with solutions/ ({problems[0].split()[-1]}, …): "
                           "run `shikumi release` first, so that learners get the current lessons")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for lang in release.LANGS:
        for notebook in sorted((root / "lessons" / lang).glob("*.ipynb")):
            _copy(notebook, dest / "lessons" / lang / notebook.name)
    _copy_library(root / "lib" / "shikumi", dest / "lib" / "shikumi")
    if (root / "docs" / "glossary.md").exists():
        _copy(root / "docs" / "glossary.md", dest / "docs" / "glossary.md")
    for name in ("README.md", "Makefile", "selftest.py"):
        _copy(TEMPLATES / name, dest / name)
    library = dest / "lib" / "shikumi"
    packages = [".".join(("shikumi", *init.parent.relative_to(library).parts))
                for init in sorted(library.rglob("__init__.py"))]
    (dest / "pyproject.toml").write_text(pyproject(root, has_cli=(library / "course" / "cli.py").exists(),
                                                   packages=packages), encoding="utf-8")
    (dest / MARKER).write_text(json.dumps({"edition": "learner", "built_from": _commit(root)}, indent=2) + "\n",
                               encoding="utf-8")
    check(dest)
    written = [dest]
    if make_zip:
        written.append(zip_folder(dest, dest.with_name(dest.name + ".zip")))
    return written


def _refuse_unsafe_destination(dest: Path, root: Path) -> None:
    """Never write over the course itself, nor over a folder that is not an earlier edition."""
    if dest == root or root.is_relative_to(dest):
        raise EditionError(f"{dest} holds the course itself; choose a new folder for the learner edition")
    for inside in ("lessons", "lib", "solutions", "autograder", "tests", "docs"):
        if dest.is_relative_to(root / inside):
            raise EditionError(f"{dest} is inside the course's {inside}/ folder; choose a folder outside it")
    if dest.exists() and (not dest.is_dir() or (any(dest.iterdir()) and not (dest / MARKER).is_file())):
        raise EditionError(f"{dest} already exists and is not an earlier learner edition; "
                           "choose a new or empty folder (nothing was written)")


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _copy_library(src: Path, dst: Path) -> None:
    """lib/shikumi without the course tooling, caches and dot-files; symbolic links are not followed."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] == "course" and (len(rel.parts) != 2 or rel.name not in COURSE_FOR_LEARNERS):
            continue
        if any(p in SKIPPED or p.startswith(".") for p in rel.parts):
            continue
        if path.is_file() and not path.is_symlink() and path.suffix != ".pyc":
            _copy(path, dst / rel)


def pyproject(root: Path, has_cli: bool = True, packages: list[str] | None = None) -> str:
    """The edition's pyproject.toml: the course's own name, version and dependencies (read from the course's
    pyproject, so the two never drift apart), the package `shikumi` only (`packages`: it and its subpackages in
    the edition, e.g. shikumi.zoo and the part of shikumi.course that learners get), without the instructor's
    tools."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    course = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = course["project"]
    deps = [d for d in project["dependencies"]
            if not any(d.replace("_", "-").lower().startswith(n) for n in LEFT_OUT_DEPENDENCIES)]
    data = [p for p in course.get("tool", {}).get("setuptools", {}).get("package-data", {}).get("shikumi", [])
            if not p.startswith("course/")]
    lines = ['[build-system]', 'requires = ["setuptools>=68"]', 'build-backend = "setuptools.build_meta"', "",
             "[project]", f"name = {_toml(project['name'])}", f"version = {_toml(project['version'])}",
             f"description = {_toml(project.get('description', ''))}", 'readme = "README.md"',
             f"requires-python = {_toml(project.get('requires-python', '>=3.10'))}",
             "dependencies = [", *[f"    {_toml(d)}," for d in deps], "]", ""]
    if has_cli:
        lines += ["[project.scripts]", 'shikumi = "shikumi.course.cli:main"', ""]
    lines += ["[tool.setuptools]", 'package-dir = { "shikumi" = "lib/shikumi" }', f"packages = [{', '.join(_toml(p) for p in packages or ['shikumi'])}]", "",
              "[tool.setuptools.package-data]", f"shikumi = [{', '.join(_toml(p) for p in data)}]", ""]
    return "\n".join(lines)


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def check(dest: Path) -> None:
    """Refuse an edition that holds anything that grades or answers (EditionError names the file)."""
    for name in NEVER:
        if (dest / name).exists():
            raise EditionError(f"the learner edition must not contain {name}/")
    for path in dest.rglob("*"):
        if path.is_symlink():
            raise EditionError(f"{path.relative_to(dest)} is a symbolic link; an edition holds plain files")
        if path.is_dir() and path.name in ("autograder", "checks"):
            raise EditionError(f"the learner edition must not contain {path.relative_to(dest)}/")
        if path.parent.name == "course" and path.parent.parent.name == "shikumi" \
                and path.name not in COURSE_FOR_LEARNERS and path.name not in SKIPPED:
            raise EditionError(f"the learner edition must not contain {path.relative_to(dest)}: it builds or "
                               "grades the course")
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md", ".txt", ".toml", ".json", ""):
            text = path.read_text(encoding="utf-8", errors="replace")
            if release.BEGIN in text or release.END in text:
                raise EditionError(f"{path.relative_to(dest)} holds a solution block ({release.BEGIN})")


def zip_folder(folder: Path, zip_path: Path) -> Path:
    """A zip whose single top folder is `folder`'s name; the same files always give the same bytes."""
    zip_path.unlink(missing_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (0o755 if path.name == "selftest.py" else 0o644) << 16
                zf.writestr(info, path.read_bytes())
    return zip_path
