"""`shikumi release`: build the student notebooks in `lessons/` from the sources in `solutions/`.

One source, two editions. A lesson's source `solutions/NN_name.py` is a text file in jupytext's percent format
(open it in JupyterLab as a notebook, or in any editor): `# %%` starts a code cell, `# %% [markdown]` a prose
cell, with the cell's tags and nbgrader metadata on that line. The source is complete and runs top to bottom,
in English (or in Japanese with SHIKUMI_LANG=ja). From it we write `lessons/en/NN_name.ipynb` and
`lessons/ja/NN_name.ipynb`:

- Prose cells tagged `en` or `ja` go only to that edition; untagged cells go to both.
- Text a learner sees in code is written once in both languages, `tr("one vector per token", "トークンごとの
  ベクトル")` (see shikumi.lang): each edition keeps its half, a plain string, and `tr` leaves the imports.
- A comment line `# en: ...` or `# ja: ...` stays only in its edition (as `# ...`), and so does a line
  `en: ...` or `ja: ...` inside a docstring (as `...`). A code line may end in a comment in both languages,
  `x = q @ k.T   # en: the scores  # ja: スコア`: each edition keeps its own half (`# the scores`).
- In the Japanese edition, a slide reference in code (a docstring's `(slide 24)`, `(slides 25, 30)`) is written
  as in the prose: `（スライド 24）`.
- In exercise cells (nbgrader metadata `solution: true`) the code between `### BEGIN SOLUTION` and
  `### END SOLUTION` becomes a stub that raises NotImplementedError; the docstring above it stays. (A
  *solution edition*, `build_lesson(..., answers=True)`, keeps the answers: nbgrader's source, and the tests'.)
- Outputs and execution counts are cleared, and the notebook's metadata says it was generated.

An exercise is two cells, linked by their nbgrader grade_id: the answer cell (`solution: true`,
grade_id `X`) and its visible self-check (`grade: true`, `locked: true`, grade_id `X_check`, with the
points). The hidden checks that really grade it live in `autograder/checks/`, keyed by `X`.
"""

from __future__ import annotations

import ast
import copy
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

LANGS = ("en", "ja")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_LANG_LINE = re.compile(r"^(\s*)(# )?(en|ja): ?(.*)$")
_LANG_CODE = re.compile(r"^(\s*\S.*?)\s*# (en|ja)\s*$")   # code, then a comment that is only a language: retired
_BOTH = re.compile(r"^(\s*\S.*?\s*)# en: (.*?)\s*# ja: (.*)$")   # code, then `# en: …  # ja: …`
_SLIDE_TAG = re.compile(r"\(slides? (\d[^()]*)\)")                # (slide 24), (slides 25, 30), (slide 47, …)


@dataclass(frozen=True)
class Exercise:
    number: str      # "1.2": lesson 1, exercise 2 ("0.1" in lesson 00; plain "2" in a notebook of no lesson)
    grade_id: str    # the answer cell's nbgrader grade_id, e.g. "conditional_prob"
    points: float    # from its self-check cell


def course_root() -> Path:
    """The folder holding solutions/, lessons/ and autograder/ (this file is lib/shikumi/course/release.py)."""
    return Path(__file__).resolve().parents[3]


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
    """Keep `# en:` / `en:` lines in the English edition and their `ja` counterparts in the Japanese one; of a
    trailing `# en: …  # ja: …`, the edition's half. The Japanese edition writes slide references the Japanese
    way, （スライド 24）."""
    out = []
    for line in source.splitlines():
        both = _BOTH.match(line)
        if both is not None and not line.lstrip().startswith("#"):
            line = f"{both.group(1)}# {both.group(2) if lang == 'en' else both.group(3)}".rstrip()
        if lang == "ja":
            line = _SLIDE_TAG.sub(lambda m: "（スライド " + m.group(1).replace(", ", "、") + "）", line)
        if _LANG_CODE.match(line) is not None and not line.lstrip().startswith("#"):
            raise ValueError(f"a line of code ends in `# en` or `# ja`, the old form: write the text once as "
                             f"tr(english, japanese) instead: {line.strip()[:80]!r}")
        match = _LANG_LINE.match(line)
        if match is None:
            out.append(line)
        elif match.group(3) == lang:
            indent, comment, text = match.group(1), match.group(2) or "", match.group(4)
            out.append(f"{indent}{comment}{text}".rstrip())
    return "\n".join(out)


_AST_LOCK = threading.Lock()


def parse_python(source: str) -> ast.Module:
    """ast.parse, one thread at a time: before Python 3.12, ast.parse in two threads at once can fail with
    "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905), and the grader grades
    submissions in threads."""
    with _AST_LOCK:
        return ast.parse(source)


def _byte_offsets(source: bytes) -> list[int]:
    """Where each line starts, in bytes (ast gives columns as UTF-8 byte offsets)."""
    starts, at = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(at)
        at += len(line)
    return starts + [at]


def resolve_text(source: str, lang: str) -> str:
    """Replace each `tr(en, ja)` in a code cell with its `lang` half (the argument's own source text, so an
    f-string stays an f-string), and take `tr` out of the import that brought it. A cell that does not parse, or
    a `tr` with other than two plain arguments, is an error naming the line."""
    if not re.search(r"\btr\b", source):
        return source
    try:
        tree = parse_python(source)
    except SyntaxError as e:
        raise ValueError(f"a code cell does not parse (line {e.lineno}: {e.msg}): {source.splitlines()[0][:80]!r}") from None
    raw = source.encode("utf-8")
    starts = _byte_offsets(raw)

    def span(node) -> tuple[int, int]:
        return starts[node.lineno - 1] + node.col_offset, starts[node.end_lineno - 1] + node.end_col_offset

    def column(node) -> int:   # in characters, as an editor shows it
        return len(raw[starts[node.lineno - 1]: starts[node.lineno - 1] + node.col_offset].decode("utf-8"))

    edits = []  # (start, end, replacement bytes)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr":
            if len(node.args) != 2 or node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise ValueError(f"line {node.lineno}: tr(...) takes exactly two texts, tr(english, japanese)")
            if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "tr"
                   for a in node.args for n in ast.walk(a)):
                raise ValueError(f"line {node.lineno}: a tr(...) inside another tr(...)")
            arg = node.args[LANGS.index(lang)]
            a, b = span(arg), span(node)
            text = raw[a[0]:a[1]].decode("utf-8")
            if "\n" in text:   # its next lines move left as far as its first moves, to stay aligned
                wrap = isinstance(arg, (ast.Constant, ast.JoinedStr))   # "one " "text" over two lines needs
                shift = column(arg) - column(node) - wrap                 # its parentheses
                first, *rest = text.split("\n")
                text = "\n".join([first] + [line[min(shift, len(line) - len(line.lstrip(" "))):] for line in rest])
                text = f"({text})" if wrap else text
            edits.append((b[0], b[1], text.encode("utf-8")))
        elif isinstance(node, ast.ImportFrom) and any(n.name == "tr" and n.asname is None for n in node.names):
            start, end = span(node)
            if len(node.names) == 1:   # `from shikumi.lang import tr`: the whole line goes
                end = starts[node.end_lineno]
                start = starts[node.lineno - 1]
                edits.append((start, end, b""))
            else:
                text = raw[start:end].decode("utf-8")
                text = re.sub(r"\btr,\s*", "", text, count=1) if re.search(r"\btr,", text) else \
                    re.sub(r",\s*tr\b", "", text, count=1)
                edits.append((start, end, text.encode("utf-8")))
    for start, end, text in sorted(edits, reverse=True):
        raw = raw[:start] + text + raw[end:]
    return raw.decode("utf-8")


def build_lesson(source_nb, lang: str, source_name: str = "", answers: bool = False):
    """The edition of a source notebook in one language (a new notebook; the source is untouched): the
    student's, or with `answers=True` the solution edition (nbgrader's source, the tests' complete lesson)."""
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
            cell.source = localize_code(resolve_text(cell.source, lang), lang)
            if is_answer_cell(cell) and not answers:
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
    if answers:
        nb.metadata["shikumi"]["edition"] = "solution"
    nb.metadata.get("language_info", {}).pop("version", None)
    return nb


def sources(root: Path | None = None) -> list[Path]:
    """The lessons' sources, solutions/NN_name.py, in order."""
    return sorted((root or course_root()).joinpath("solutions").glob("[0-9][0-9]_*.py"))


def source_path(lesson: str, root: Path | None = None) -> Path:
    """solutions/NN_name.py of a lesson such as "01_ngram"."""
    return (root or course_root()) / "solutions" / f"{lesson}.py"


def read_source(path: Path | str):
    """A lesson's source as a notebook (a `.py` in jupytext's percent format; an `.ipynb` is read as it is)."""
    path = Path(path)
    if path.suffix == ".ipynb":
        return nbformat.read(str(path), as_version=4)
    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata.pop("jupytext", None)
    for i, cell in enumerate(nb.cells, start=1):   # ids by position, "01-007": the same on every release
        cell.id = f"{path.stem[:2]}-{i:03d}"
    return nb


def solution_edition(lesson: str, lang: str, root: Path | None = None):
    """A lesson complete with its answers, in one language: what a learner who solved everything hands in."""
    return build_lesson(read_source(source_path(lesson, root)), lang, source_name=f"solutions/{lesson}.py",
                        answers=True)


def planned_outputs(root: Path | None = None) -> dict[Path, str]:
    """{lessons/<lang>/NN_name.ipynb: its text} for every source and language."""
    root = root or course_root()
    planned = {}
    for src in sources(root):
        source_nb = read_source(src)
        for lang in LANGS:
            nb = build_lesson(source_nb, lang, source_name=f"solutions/{src.name}")
            planned[root / "lessons" / lang / f"{src.stem}.ipynb"] = nbformat.writes(nb, version=4) + "\n"
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


def release_nbgrader(course_dir: Path, lang: str, root: Path | None = None, assignment: str = "{lesson}",
                     lessons: list[str] | None = None) -> list[Path]:
    """Write an nbgrader course's `source/<assignment>/<lesson>.ipynb`, one edition's solution notebook per
    lesson (prose, self-check messages and hints in `lang` only), ready for `nbgrader generate_assignment`.
    `assignment` names each assignment folder: "{lesson}" (01_ngram), "{number}" (01) or e.g. "week{number}"."""
    written = []
    for src in sources(root):
        if lessons and src.stem not in lessons:
            continue
        nb = build_lesson(read_source(src), lang, source_name=f"solutions/{src.name}", answers=True)
        name = assignment.format(lesson=src.stem, number=src.stem[:2])
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
            raise ValueError(f"assignment name {name!r}: use letters, digits, '_', '-' and '.' only")
        path = Path(course_dir) / "source" / name / f"{src.stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nbformat.writes(nb, version=4) + "\n", encoding="utf-8")
        written.append(path)
    return written
