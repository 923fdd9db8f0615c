"""`shikumi release`: build the student notebooks in `lessons/` from the sources in `solutions/`.

One source, two editions. A source notebook `solutions/NN_name.ipynb` is complete and runs top to bottom.
From it we write `lessons/en/NN_name.ipynb` and `lessons/ja/NN_name.ipynb`:

- Markdown cells tagged `en` or `ja` go only to that edition; untagged cells go to both.
- In code cells, a comment line `# en: ...` or `# ja: ...` stays only in its edition (as `# ...`), and so
  does a line `en: ...` or `ja: ...` inside a docstring (as `...`). A line of code that ends in the comment
  `# en` or `# ja` stays only in its edition, without that comment: a plot's title in each language,

      title = "one vector per token"        # en
      title = "トークンごとのベクトル"          # ja

  (the source runs both lines; the later one wins there). A code line may end in a comment in both languages,
  `x = q @ k.T   # en: the scores  # ja: スコア`: each edition keeps its own half (`# the scores`).
- In the Japanese edition, a slide reference in code (a docstring's `(slide 24)`, `(slides 25, 30)`) is written
  as in the prose: `（スライド 24）`.
- In exercise cells (nbgrader metadata `solution: true`) the code between `### BEGIN SOLUTION` and
  `### END SOLUTION` becomes a stub that raises NotImplementedError; the docstring above it stays.
- Outputs and execution counts are cleared, and the notebook's metadata says it was generated.

An exercise is two cells, linked by their nbgrader grade_id: the answer cell (`solution: true`,
grade_id `X`) and its visible self-check (`grade: true`, `locked: true`, grade_id `X_check`, with the
points). The hidden checks that really grade it live in `autograder/checks/`, keyed by `X`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

LANGS = ("en", "ja")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_LANG_LINE = re.compile(r"^(\s*)(# )?(en|ja): ?(.*)$")
_LANG_CODE = re.compile(r"^(\s*\S.*?)\s*# (en|ja)\s*$")   # code, then a comment that is only a language
_BOTH = re.compile(r"^(\s*\S.*?\s*)# en: (.*?)\s*# ja: (.*)$")   # code, then `# en: …  # ja: …`
_SLIDE_TAG = re.compile(r"\(slides? (\d[^()]*)\)")                # (slide 24), (slides 25, 30), (slide 47, …)


@dataclass(frozen=True)
class Exercise:
    number: str      # "1.2": lesson 1, exercise 2 ("0.1" in lesson 00; plain "2" in a notebook of no lesson)
    grade_id: str    # the answer cell's nbgrader grade_id, e.g. "conditional_prob"
    points: float    # from its self-check cell


def course_root() -> Path:
    """The folder holding solutions/, lessons/ and autograder/ (this file is lib/shikumi/release.py)."""
    return Path(__file__).resolve().parents[2]


def lesson_number(path_or_name: str | Path) -> int:
    """"01_ngram.ipynb" → 1; "00_first_neural_network" → 0."""
    match = re.match(r"(\d+)_", Path(path_or_name).name)
    if not match:
        raise ValueError(f"lesson notebooks are named NN_name.ipynb, not {Path(path_or_name).name!r}")
    return int(match.group(1))


def is_answer_cell(cell) -> bool:
    nbg = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(nbg.get("solution")) and not nbg.get("grade")


def is_check_cell(cell) -> bool:
    nbg = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(nbg.get("grade")) and not nbg.get("solution")


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def exercises(nb) -> list[Exercise]:
    """The graded exercises of a notebook, in order, with their points. They are numbered by the lesson named in
    the notebook's metadata ("0.1", "0.2" … in lesson 00); without one, plainly "1", "2" … (lesson 00 exists, so
    a missing lesson can no longer pass for it)."""
    points = {grade_id(c): float(c.metadata.nbgrader.get("points", 0)) for c in nb.cells if is_check_cell(c)}
    lesson = nb.metadata.get("shikumi", {}).get("lesson")
    prefix = f"{lesson_number(lesson)}." if lesson else ""
    found = []
    for i, cell in enumerate((c for c in nb.cells if is_answer_cell(c)), start=1):
        gid = grade_id(cell)
        if f"{gid}_check" not in points:
            raise ValueError(f"exercise {gid!r} has no self-check cell with grade_id {gid + '_check'!r}")
        found.append(Exercise(f"{prefix}{i}", gid, points[f"{gid}_check"]))
    return found


def stub(exercise: Exercise, lang: str, indent: str = "") -> str:
    """What a learner finds in place of the solution."""
    message = {
        "en": f"Exercise {exercise.number}: {exercise.grade_id} — replace this line with your code",
        "ja": f"演習 {exercise.number}: {exercise.grade_id} — この行をあなたのコードに置き換えてください",
    }[lang]
    return f'{indent}raise NotImplementedError("{message}")'


def strip_solution(source: str, exercise: Exercise, lang: str) -> str:
    """Replace each BEGIN/END SOLUTION block with the stub, keeping the lines around it."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            if inside:
                raise ValueError(f"{exercise.grade_id}: {BEGIN} twice without {END}")
            inside = True
            out.append(stub(exercise, lang, indent=line[: len(line) - len(line.lstrip())]))
        elif line.strip() == END:
            if not inside:
                raise ValueError(f"{exercise.grade_id}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{exercise.grade_id}: {BEGIN} is never closed by {END}")
    if len(out) == len(source.splitlines()):
        raise ValueError(f"exercise cell {exercise.grade_id!r} has no {BEGIN} / {END} block")
    return "\n".join(out)


def localize_code(source: str, lang: str) -> str:
    """Keep `# en:` / `en:` lines and code lines ending in `# en` in the English edition, and their `ja`
    counterparts in the Japanese one; of a trailing `# en: …  # ja: …`, the edition's half. The Japanese edition
    writes slide references the Japanese way, （スライド 24）."""
    out = []
    for line in source.splitlines():
        both = _BOTH.match(line)
        if both is not None and not line.lstrip().startswith("#"):
            line = f"{both.group(1)}# {both.group(2) if lang == 'en' else both.group(3)}".rstrip()
        if lang == "ja":
            line = _SLIDE_TAG.sub(lambda m: "（スライド " + m.group(1).replace(", ", "、") + "）", line)
        code = _LANG_CODE.match(line)
        if code is not None and not line.lstrip().startswith("#"):
            if code.group(2) == lang:
                out.append(code.group(1))
            continue
        match = _LANG_LINE.match(line)
        if match is None:
            out.append(line)
        elif match.group(3) == lang:
            indent, comment, text = match.group(1), match.group(2) or "", match.group(4)
            out.append(f"{indent}{comment}{text}".rstrip())
    return "\n".join(out)


def build_lesson(source_nb, lang: str, source_name: str = ""):
    """The student edition of a source notebook in one language (a new notebook; the source is untouched)."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    nb = copy.deepcopy(source_nb)
    by_id = {e.grade_id: e for e in exercises(nb)}
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if any(t in LANGS and t != lang for t in tags):
            continue  # prose in the other language
        if cell.cell_type == "code":
            cell.source = localize_code(cell.source, lang)
            if is_answer_cell(cell):
                cell.source = strip_solution(cell.source, by_id[grade_id(cell)], lang)
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata["shikumi"] = {
        **nb.metadata.get("shikumi", {}),
        "lang": lang,
        "generated_by": "shikumi release — do not edit; edit the source in solutions/ and run `shikumi release`",
        "source": source_name,
    }
    nb.metadata.get("language_info", {}).pop("version", None)
    return nb


def sources(root: Path | None = None) -> list[Path]:
    return sorted((root or course_root()).joinpath("solutions").glob("[0-9][0-9]_*.ipynb"))


def read_source(path: Path):
    return nbformat.read(str(path), as_version=4)


def planned_outputs(root: Path | None = None) -> dict[Path, str]:
    """{lessons/<lang>/NN_name.ipynb: its text} for every source and language."""
    root = root or course_root()
    planned = {}
    for src in sources(root):
        source_nb = read_source(src)
        for lang in LANGS:
            nb = build_lesson(source_nb, lang, source_name=f"solutions/{src.name}")
            planned[root / "lessons" / lang / src.name] = nbformat.writes(nb, version=4) + "\n"
    return planned


def stale(root: Path | None = None) -> list[str]:
    """What `release` would change: files to write, rewrite or delete (empty when lessons/ is in sync)."""
    root = root or course_root()
    planned = planned_outputs(root)
    problems = []
    for path, text in planned.items():
        if not path.exists():
            problems.append(f"missing  {path.relative_to(root)}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"stale    {path.relative_to(root)}")
    for lang in LANGS:
        for path in sorted((root / "lessons" / lang).glob("*.ipynb")):
            if path not in planned:
                problems.append(f"orphan   {path.relative_to(root)} (no source in solutions/)")
    return problems


def release(root: Path | None = None) -> list[Path]:
    """Write every edition; delete lessons whose source is gone. Returns the files written."""
    root = root or course_root()
    planned = planned_outputs(root)
    written = []
    for path, text in planned.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    for lang in LANGS:
        for path in (root / "lessons" / lang).glob("*.ipynb"):
            if path not in planned:
                path.unlink()
    return written
