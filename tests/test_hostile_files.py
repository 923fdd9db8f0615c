"""Hostile files and hostile return values: one bad file never stops a batch, no value hurts the grader.

No kernel runs here (blank lessons cost none): these tests are about what the grader itself reads."""

from __future__ import annotations

import csv
import json
import os

import nbformat
import pytest

from autograder import batch, plain, verify
from autograder.batch import discover, grade_batch
from autograder.checks import for_lesson
from tests.conftest import ROOT, make_submission

LESSON = "01_ngram"


def gradebook(out):
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_a_batch_survives_every_hostile_file(tmp_path):
    """Deeply nested JSON, lesson metadata that is a list, a grade_id that is a dict, a symlink to the
    solution: before, the first two took the whole batch down (RecursionError, TypeError) and the last scored
    full."""
    cls = tmp_path / "class"
    cls.mkdir()
    (cls / "deep.ipynb").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")

    def list_lesson(nb):
        nb.metadata["shikumi"] = {"lesson": ["01_ngram"], "lang": {"en": 1}}

    def dict_grade_id(nb):
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader"):
                cell.metadata["nbgrader"]["grade_id"] = {"a": 1}

    make_submission(cls, LESSON, {}, name="listy.ipynb", edit=list_lesson)
    make_submission(cls, LESSON, {}, name="dicty.ipynb", edit=dict_grade_id)
    make_submission(cls, LESSON, {}, name="honest.ipynb")
    (cls / "linked.ipynb").symlink_to(ROOT / "lessons" / "en" / f"{LESSON}.ipynb")
    (cls / "dev").mkdir()
    (cls / "dev" / "zero.ipynb").symlink_to("/dev/zero")

    out = tmp_path / "grades"
    results, _ = grade_batch([cls], out, progress=False)
    book = {r["submission"].rsplit("/", 1)[-1]: r for r in gradebook(out)}
    assert book["deep.ipynb"]["status"] == "error" and "nested too deeply" in book["deep.ipynb"]["message"]
    assert book["linked.ipynb"]["status"] == "error" and "symbolic link" in book["linked.ipynb"]["message"]
    assert book["zero.ipynb"]["status"] == "error" and "symbolic link" in book["zero.ipynb"]["message"]
    for name in ("listy.ipynb", "dicty.ipynb", "honest.ipynb"):
        assert book[name]["status"] == "graded" and book[name]["score"] == "0", book[name]
    assert all("\n" not in r["message"] for r in book.values())


def test_ids_that_become_one_folder_are_both_refused(tmp_path):
    """`bob_smith` and `bob~smith` would share grades/bob_smith/: before, one overwrote the other."""
    cls = tmp_path / "class"
    cls.mkdir()
    make_submission(cls, LESSON, {}, name="bob_smith.ipynb")
    make_submission(cls, LESSON, {}, name="bob~smith.ipynb")
    make_submission(cls, LESSON, {}, name="carol.ipynb")
    out = tmp_path / "grades"
    grade_batch([cls], out, progress=False)
    book = {r["submission"].rsplit("/", 1)[-1]: r for r in gradebook(out)}
    for name in ("bob_smith.ipynb", "bob~smith.ipynb"):
        assert book[name]["status"] == "error" and "become one folder name" in book[name]["message"]
    assert book["carol.ipynb"]["status"] == "graded"
    assert len(list((out / "bob_smith").glob("*.json"))) == 2  # two reasons, side by side, none overwritten


def test_a_file_name_is_never_a_spreadsheet_formula(tmp_path):
    cls = tmp_path / "class"
    cls.mkdir()
    for name in ("=HYPERLINK(1)", "+SUM(1)", "-2+3", "@cmd", "\tTAB"):
        make_submission(cls, LESSON, {}, name=f"{name}.ipynb")
    out = tmp_path / "grades"
    grade_batch([cls], out, progress=False)
    rows = gradebook(out)
    assert len(rows) == 5
    for row in rows:
        for column, value in row.items():
            assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), (column, value)
    assert {r["student_id"] for r in rows} == {"'=HYPERLINK(1)", "'+SUM(1)", "'-2+3", "'@cmd", "'\tTAB"}


def test_discovery_never_follows_a_symlinked_folder(tmp_path):
    cls = tmp_path / "class"
    (cls / "eve").mkdir(parents=True)
    (cls / "eve" / "others").symlink_to(ROOT / "solutions", target_is_directory=True)
    (cls / "mallory").symlink_to(ROOT / "solutions", target_is_directory=True)
    make_submission(cls / "eve", LESSON, {}, name="mine.ipynb")
    found = discover([cls])
    paths = {str(s.path.relative_to(cls)): s.problem for s in found}
    assert paths.pop("eve/mine.ipynb") is None
    assert all("symbolic link" in (problem or "") for problem in paths.values()), paths
    assert not any(str(ROOT / "solutions") in str(s.path.resolve().parent) and s.problem is None for s in found)


# -- what a run sends back --------------------------------------------------------------------------------

def test_plain_decode_refuses_what_is_not_plain_data():
    with pytest.raises(ValueError, match="dtype"):
        plain.decode({"__array__": {"kind": "numpy", "dtype": "V4000000000", "shape": [1], "data": [1]}})
    with pytest.raises(ValueError, match="fill the shape"):
        plain.decode({"__array__": {"kind": "numpy", "dtype": "float32", "shape": [10**6, 10**6], "data": [1]}})
    with pytest.raises(ValueError, match="nested"):
        plain.decode(json.loads("[" * 80 + "]" * 80))
    with pytest.raises(ValueError, match="elements"):
        plain.decode([0] * (plain.MAX_ELEMENTS + 1))
    assert plain.decode(plain.encode({"k": (1, 2.5)})) == {"k": (1, 2.5)}


def test_a_value_built_to_be_slow_to_read_costs_only_its_case():
    """Keys that all hash alike make building the dict quadratic: before, 110 s of the grader's own CPU for
    one case. Now the check runs in a child with a time limit, and the next case is checked as usual."""
    check = for_lesson(LESSON)["count_ngrams"]
    cases = check.cases(__import__("random").Random(3))
    colliding = {"__counter__": [[{"__tuple__": [{"__int__": str(k * (2**61 - 1))}]}, 1] for k in range(1, 200_000)]}
    right = plain.encode(__import__("shikumi.ngram", fromlist=["x"]).count_ngrams(*cases[1].args))
    items = [verify.Item("count_ngrams", 0, colliding), verify.Item("count_ngrams", 1, right)]
    order = list(for_lesson(LESSON))
    verdicts = verify.judge(LESSON, "en", 3, order, items, check_seconds=3)
    assert "took longer than 3 s" in verdicts[0]
    assert verdicts[1] is None


def test_a_huge_claimed_dtype_costs_the_grader_nothing():
    """An array that claims a dtype of 4 GB per element made the grader's decoding take 4 GB."""
    import psutil

    before = psutil.Process().memory_info().rss
    huge = {"__array__": {"kind": "numpy", "dtype": "V4000000000", "shape": [4], "data": [0, 0, 0, 0]}}
    verdicts = verify.judge(LESSON, "ja", 3, list(for_lesson(LESSON)), [verify.Item("count_ngrams", 0, huge)])
    assert "読めない" in verdicts[0]
    assert psutil.Process().memory_info().rss - before < 200 * 2**20


def test_the_grader_keeps_the_first_message_of_each_case():
    """A message forged after the probe's own (a hook, a thread) changes nothing."""
    from autograder.grade import Run

    run = Run()
    known = {"count_ngrams": 2}
    for record in ({"ran": True}, {"case": 0, "started": True}, {"case": 0, "value": 1},
                   {"case": 0, "value": 2}, {"case": 7, "value": 3}, {"case": True, "value": 4}, {"flag": "x:y"}):
        run.take(json.dumps({"type": "probe", "grade_id": "count_ngrams", "record": record}).encode(), known)
    run.take(b'{"type": "probe", "grade_id": "other", "record": {"case": 0, "value": 5}}', known)
    run.take(b"[" * 10_000, known)
    run.take(b'{"type": "probe", "grade_id": ["count_ngrams"], "record": {}}', known)
    record = run.records["count_ngrams"]
    assert record["cases"] == {0: {"started": True, "finished": True, "value": 1}}
    assert record["flags"] == {"x:y"} and set(run.records) == {"count_ngrams"}


def test_the_pipe_reader_keeps_within_its_budget():
    from autograder.grade import MAX_LINE, _read_lines

    r, w = os.pipe()
    lines = []
    reader = __import__("threading").Thread(target=_read_lines, args=(r, lines, 12))
    reader.start()
    with os.fdopen(w, "wb") as f:
        f.write(b"short\n" + b"x" * (MAX_LINE + 10) + b"\nafter\n" + b"y" * 5000 + b"\nlast\n")
    reader.join(30)
    os.close(r)
    assert lines == [b"short", b"after"]  # the over-long line is dropped; 12 bytes end before "last"


def test_result_files_of_refused_submissions_never_collide(tmp_path):
    a = batch.Submission(tmp_path / "x" / "hw.ipynb", "ann", problem="bad")
    b = batch.Submission(tmp_path / "y" / "hw.ipynb", "ann", problem="bad")
    assert batch.result_path(tmp_path, a) != batch.result_path(tmp_path, b)
    assert batch._safe("..") not in (".", "..") and "/" not in batch._safe("../../etc")


def test_an_unreadable_notebook_in_many_ways_gets_one_line(tmp_path):
    from autograder.grade import grade_submission

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nb.metadata["shikumi"] = {"lesson": {"not": "a name"}}
    path = tmp_path / "odd.ipynb"
    nbformat.write(nb, str(path))
    result = grade_submission(path)  # before: TypeError (unhashable dict), the batch stopped
    assert result.error and "which lesson" in result.error and "\n" not in result.error
