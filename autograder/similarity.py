"""Which answers look copied: the most similar pairs of answers to each exercise, for the instructor to read.

An answer becomes a sequence of tokens from its syntax tree, with what a copier changes cheaply taken out:
every identifier becomes one token (`counts`, `c`, `ctx` → ID; builtins keep their names), comments are gone
(the tree has none), docstrings and other lone strings are dropped, constants keep their type and value, attribute
names stay (`.items`: the API used is part of the answer). Each run of K tokens is a
fingerprint; two answers are compared by the share of fingerprints they have in common (Jaccard). The released
stub's own fingerprints (its `def` line, `raise NotImplementedError(...)`) are removed first, so two blank or
nearly blank answers are not "similar"; short answers are too short to tell and are left out.

A high score is a reason to read two answers side by side, never a verdict: short exercises have few ways to
be right. `shikumi grade` writes OUT/similarity.html; `shikumi similarity OUT` writes it again.
"""

from __future__ import annotations

import ast
import builtins
import html
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from shikumi.course import release

K = 5                    # tokens per fingerprint
MIN_FINGERPRINTS = 4     # fewer (after the stub's are removed): too short to compare
MAX_SOURCE = 100_000     # characters of one answer that are read
MAX_TOKENS = 20_000
BUILTINS = frozenset(dir(builtins))


def tokens(source: str) -> list[str]:
    """The answer's syntax tree as tokens, identifiers renamed, docstrings dropped; [] if it does not parse."""
    try:
        tree = release.parse_python(source[:MAX_SOURCE])
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out: list[str] = []

    def name(n: str) -> str:
        return n if n in BUILTINS else "ID"  # every identifier alike: renaming, or a new variable, changes nothing

    def visit(node, depth=0):
        if len(out) >= MAX_TOKENS or depth > 200:
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring, or a string used as a comment
        out.append(type(node).__name__)
        if isinstance(node, ast.Name):
            out.append(name(node.id))
        elif isinstance(node, ast.arg):
            out.append(name(node.arg))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append(name(node.name))
        elif isinstance(node, ast.Attribute):
            out.append("." + node.attr)
        elif isinstance(node, ast.Constant):
            out.append(f"{type(node.value).__name__}:{repr(node.value)[:30]}")
        elif isinstance(node, ast.alias):
            out.append(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child, depth + 1)

    try:
        visit(tree)
    except RecursionError:
        return []
    return out


def fingerprints(source: str) -> set[tuple[str, ...]]:
    toks = tokens(source)
    return {tuple(toks[i:i + K]) for i in range(len(toks) - K + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass
class Pair:
    lesson: str
    exercise: str
    score: float
    first: str     # student ids
    second: str
    first_code: str
    second_code: str


def stubs(lesson: str) -> dict[str, set[tuple[str, ...]]]:
    """{grade_id: the fingerprints of its released stub, in every edition}."""
    from shikumi.course import release

    source = release.read_source(release.source_path(lesson))
    found: dict[str, set] = {}
    for lang in release.LANGS:
        for cell in release.build_lesson(source, lang).cells:
            if release.is_answer_cell(cell):
                found.setdefault(release.grade_id(cell), set()).update(fingerprints(cell.source))
    return found


def load_answers(out_dir: Path) -> dict[str, dict[str, dict[str, str]]]:
    """{lesson: {student: {grade_id: source}}} from the results files (extra_data.answers)."""
    from autograder import report

    found: dict[str, dict[str, dict[str, str]]] = {}
    for _, data in report.read_results(out_dir):
        extra = data["extra_data"]
        lesson, student = extra.get("lesson"), extra.get("student_id")
        if extra.get("error") or not isinstance(lesson, str) or not isinstance(student, str) or not lesson:
            continue
        answers = extra.get("answers")
        if isinstance(answers, dict):
            found.setdefault(lesson, {})[student] = {k: v for k, v in answers.items()
                                                     if isinstance(k, str) and isinstance(v, str)}
    return found


def most_similar(answers: dict[str, dict[str, dict[str, str]]], top: int = 5,
                 stub_prints: dict[str, dict[str, set]] | None = None) -> dict[tuple[str, str], list[Pair]]:
    """{(lesson, grade_id): the `top` most similar pairs of learners, most similar first}."""
    ranked: dict[tuple[str, str], list[Pair]] = {}
    for lesson, by_student in sorted(answers.items()):
        try:
            blank = (stub_prints or {}).get(lesson) or stubs(lesson)
        except Exception:  # noqa: BLE001 — a lesson that is gone from solutions/: no stub to remove
            blank = {}
        exercises = sorted({gid for a in by_student.values() for gid in a})
        for gid in exercises:
            prints = {}
            for student, a in by_student.items():
                if gid in a:
                    fp = fingerprints(a[gid]) - blank.get(gid, set())
                    if len(fp) >= MIN_FINGERPRINTS:
                        prints[student] = fp
            pairs = [Pair(lesson, gid, jaccard(prints[x], prints[y]), x, y, by_student[x][gid], by_student[y][gid])
                     for x, y in combinations(sorted(prints), 2)]
            pairs.sort(key=lambda p: (-p.score, p.first, p.second))
            ranked[(lesson, gid)] = [p for p in pairs[:top] if p.score > 0]
    return ranked


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Similar answers</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: .4rem;
       text-align: left; vertical-align: top; }}
.high {{ color: #b42318; font-weight: bold; }} pre {{ white-space: pre-wrap; margin: 0; font-size: .85rem; }}
.side {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }}
</style></head><body>
<h1>Similar answers</h1>
<p>For each exercise, the pairs of learners whose answers share the most code structure once identifiers are
renamed, comments and docstrings dropped and the released stub's own code removed (Jaccard similarity of
{k}-token fingerprints; 1.00 = the same code up to names). A high score is a reason to read the two answers,
never a verdict: a short exercise has few ways to be right. Answers too short to compare are left out.</p>
{sections}
</body></html>
"""


def report_html(ranked: dict[tuple[str, str], list[Pair]]) -> str:
    esc = html.escape
    sections = []
    for (lesson, gid), pairs in ranked.items():
        rows = "\n".join(
            f'<tr><td class="{"high" if p.score >= 0.8 else ""}">{p.score:.2f}</td><td>{esc(p.first)}</td>'
            f"<td>{esc(p.second)}</td><td><details><summary>both answers</summary><div class=\"side\">"
            f"<pre>{esc(p.first_code[:20000])}</pre><pre>{esc(p.second_code[:20000])}</pre></div></details></td></tr>"
            for p in pairs) or '<tr><td colspan="4">no pair to compare</td></tr>'
        sections.append(f"<h2>{esc(lesson)} · <code>{esc(gid)}</code></h2>\n<table><tr><th>similarity</th>"
                        f"<th>learner</th><th>learner</th><th></th></tr>\n{rows}\n</table>")
    return _PAGE.format(k=K, sections="\n".join(sections) or "<p>No graded answers yet.</p>")


def write_report(out_dir: Path, top: int = 5) -> tuple[Path, dict[tuple[str, str], list[Pair]]]:
    from autograder import report

    ranked = most_similar(load_answers(Path(out_dir)), top=top)
    path = Path(out_dir) / "similarity.html"
    report.atomic_write(path, report_html(ranked))
    return path, ranked
