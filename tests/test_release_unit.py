"""shikumi.course.release, on small notebooks built here (independent of what is in solutions/)."""

from __future__ import annotations

import ast
import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from shikumi.course.release import (
    Exercise,
    build_lesson,
    exercises,
    grade_id,
    is_answer_cell,
    is_check_cell,
    lesson_number,
    localize_code,
    resolve_text,
    strip_solution,
    stub,
)

ANSWER = '''def f(x):
    """Add one.

    en: Return x plus one.
    ja: x に 1 を足して返します。
    """
    # en: the answer
    # ja: 答え
    ### BEGIN SOLUTION
    y = x + 1
    return y
    ### END SOLUTION'''

CHECK = "from shikumi.course.selfcheck import expect\nexpect(f(1), 2, 'f(1)')"


def answer_meta(gid="f"):
    return {"nbgrader": {"grade": False, "solution": True, "locked": False, "grade_id": gid, "schema_version": 3}}


def check_meta(gid="f_check", points=2):
    return {"nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": gid, "points": points,
                         "schema_version": 3}}


def make_notebook(with_check=True, answer=ANSWER):
    cells = [
        new_markdown_cell("# Lesson", metadata={}),
        new_markdown_cell("English prose.", metadata={"tags": ["en"]}),
        new_markdown_cell("日本語の説明。", metadata={"tags": ["ja"]}),
        new_code_cell("# en: setup\n# ja: 準備\nimport math", execution_count=3,
                      outputs=[new_output("stream", name="stdout", text="hi\n")]),
        new_code_cell(answer, metadata=answer_meta(), execution_count=4,
                      outputs=[new_output("execute_result", data={"text/plain": "1"}, execution_count=4)]),
    ]
    if with_check:
        cells.append(new_code_cell(CHECK, metadata=check_meta(), execution_count=5))
    return new_notebook(cells=cells, metadata={"shikumi": {"lesson": "01_test"},
                                               "language_info": {"name": "python", "version": "3.12.1"}})


EX = Exercise("1.1", "f", 2.0)


# -- small helpers ----------------------------------------------------------------------------------------

def test_lesson_number():
    assert lesson_number("01_ngram.ipynb") == 1
    assert lesson_number("solutions/12_diffusion.ipynb") == 12
    assert lesson_number("solutions/00_first_neural_network.ipynb") == 0
    assert lesson_number("00_first_neural_network") == 0
    with pytest.raises(ValueError, match="NN_name.ipynb"):
        lesson_number("ngram.ipynb")


def test_cell_kinds():
    nb = make_notebook()
    answer, check = nb.cells[4], nb.cells[5]
    assert is_answer_cell(answer) and not is_check_cell(answer)
    assert is_check_cell(check) and not is_answer_cell(check)
    assert not is_answer_cell(nb.cells[3]) and not is_check_cell(nb.cells[3])
    assert grade_id(answer) == "f" and grade_id(check) == "f_check" and grade_id(nb.cells[0]) is None


# -- exercises ----------------------------------------------------------------------------------------------

def test_exercises_reads_points_from_the_check_cell():
    assert exercises(make_notebook()) == [Exercise("1.1", "f", 2.0)]


def test_exercises_are_numbered_in_order():
    nb = make_notebook()
    nb.cells.append(new_code_cell("def g():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION",
                                  metadata=answer_meta("g")))
    nb.cells.append(new_code_cell("g()", metadata=check_meta("g_check", points=3.5)))
    assert exercises(nb) == [Exercise("1.1", "f", 2.0), Exercise("1.2", "g", 3.5)]


def test_lesson_00_numbers_its_exercises_0_1_and_a_notebook_of_no_lesson_plainly():
    nb = make_notebook()
    nb.metadata["shikumi"]["lesson"] = "00_first_neural_network"
    assert exercises(nb) == [Exercise("0.1", "f", 2.0)]
    assert "演習 0.1: f" in build_lesson(nb, "ja").cells[-2].source
    del nb.metadata["shikumi"]
    assert exercises(nb) == [Exercise("1", "f", 2.0)]      # not "0.1": that is lesson 00's


def test_exercises_without_check_cell_is_a_clear_error():
    with pytest.raises(ValueError) as info:
        exercises(make_notebook(with_check=False))
    assert "'f'" in str(info.value)
    assert "'f_check'" in str(info.value)


# -- strip_solution ----------------------------------------------------------------------------------------

def test_strip_solution_replaces_the_block_with_a_stub():
    out = strip_solution(ANSWER, EX, "en")
    lines = out.splitlines()
    assert "y = x + 1" not in out and "return y" not in out
    assert "BEGIN SOLUTION" not in out and "END SOLUTION" not in out
    assert lines[-1] == ('    raise NotImplementedError("Exercise 1.1: f — replace this line with your code")')
    # everything above the block is kept as it was, docstring included
    assert lines[:-1] == ANSWER.splitlines()[:8]
    assert '"""Add one.' in out


def test_strip_solution_japanese_stub():
    out = strip_solution(ANSWER, EX, "ja")
    assert out.splitlines()[-1] == (
        '    raise NotImplementedError("演習 1.1: f — この行をあなたのコードに置き換えてください")')


def test_stub_indentation_follows_the_marker():
    source = "def f():\n        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION\nx = 1"
    out = strip_solution(source, EX, "en").splitlines()
    assert out[1].startswith("        raise NotImplementedError(")
    assert out[2] == "x = 1"  # lines after the block are kept
    assert stub(EX, "en", indent="\t").startswith("\traise NotImplementedError(")


def test_strip_solution_stub_compiles():
    compile(strip_solution(ANSWER, EX, "en"), "<cell>", "exec")


def test_strip_solution_two_blocks():
    source = "### BEGIN SOLUTION\na = 1\n### END SOLUTION\nb = 2\n### BEGIN SOLUTION\nc = 3\n### END SOLUTION"
    out = strip_solution(source, EX, "en").splitlines()
    assert len(out) == 3 and out[1] == "b = 2"
    assert out[0].startswith("raise NotImplementedError") and out[2].startswith("raise NotImplementedError")


def test_unclosed_block_names_the_exercise():
    with pytest.raises(ValueError, match=r"f: ### BEGIN SOLUTION is never closed"):
        strip_solution("def f():\n    ### BEGIN SOLUTION\n    return 1", EX, "en")


def test_begin_twice_names_the_exercise():
    with pytest.raises(ValueError, match=r"^f: ### BEGIN SOLUTION twice"):
        strip_solution("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", EX, "en")


def test_end_without_begin_names_the_exercise():
    with pytest.raises(ValueError, match=r"^f: ### END SOLUTION without"):
        strip_solution("x = 1\n### END SOLUTION", EX, "en")


def test_missing_markers_name_the_exercise():
    with pytest.raises(ValueError, match=r"exercise cell 'f' has no ### BEGIN SOLUTION"):
        strip_solution("def f():\n    return 1", EX, "en")


# -- localize_code -------------------------------------------------------------------------------------------

SOURCE = '''import math  # not a language line
# en: English comment
# ja: 日本語のコメント
def g():
    """Doc.

    en: English docstring line.
    ja: 日本語のドックストリング。
    """
    # en: indented English
    # ja: インデントされた日本語
    return "en: inside a string"'''


def test_localize_code_english():
    assert localize_code(SOURCE, "en").splitlines() == [
        "import math  # not a language line",
        "# English comment",
        "def g():",
        '    """Doc.',
        "",
        "    English docstring line.",
        '    """',
        "    # indented English",
        '    return "en: inside a string"',
    ]


def test_localize_code_japanese():
    assert localize_code(SOURCE, "ja").splitlines() == [
        "import math  # not a language line",
        "# 日本語のコメント",
        "def g():",
        '    """Doc.',
        "",
        "    日本語のドックストリング。",
        '    """',
        "    # インデントされた日本語",
        '    return "en: inside a string"',
    ]


def test_localize_code_leaves_other_code_alone():
    source = "x = {'en': 1}\nprint('ja: no')\n# english: not a tag"
    assert localize_code(source, "en") == source
    assert localize_code(source, "ja") == source


def test_each_edition_keeps_its_half_of_tr():
    source = ('from shikumi.lang import tr\n'
              'from shikumi.course.selfcheck import tr, expect, set_language\n'
              'set_language(tr("en", "ja"))\n'
              'plot(x, title=tr("how much is left", "どれだけ残っているか"))\n'
              'label = tr(f"step {i:3d}", f"ステップ {i:3d}")\n'
              'y = Tx("not T") + T  # a name that only looks like it\n')
    assert resolve_text(source, "en").splitlines() == [
        "from shikumi.course.selfcheck import expect, set_language", 'set_language("en")',
        'plot(x, title="how much is left")', 'label = f"step {i:3d}"', 'y = Tx("not T") + T  # a name that only looks like it']
    assert resolve_text(source, "ja").splitlines()[1:4] == [
        'set_language("ja")', 'plot(x, title="どれだけ残っているか")', 'label = f"ステップ {i:3d}"']


def test_tr_over_several_lines_stays_aligned_and_valid():
    source = ('line = tr("Hugging Face: {n} merges; "\n'
              '          "{s} shared.",\n'
              '          "Hugging Face：{n} 回のマージ、"\n'
              '          "{s} 個が共通。")\n'
              'rows = tr({"a": [1,\n'
              '                 2]},\n'
              '          {"あ": [1, 2]})\n')
    en, ja = resolve_text(source, "en"), resolve_text(source, "ja")
    assert en.splitlines()[:2] == ['line = ("Hugging Face: {n} merges; "', '        "{s} shared.")']
    assert ja.splitlines()[:2] == ['line = ("Hugging Face：{n} 回のマージ、"', '        "{s} 個が共通。")']
    assert en.splitlines()[2:] == ['rows = {"a": [1,', '              2]}']
    for text in (en, ja):
        ast.parse(text)


@pytest.mark.parametrize("bad, why", [
    ('x = tr("only one")', "exactly two"),
    ('x = tr("a", "b", "c")', "exactly two"),
    ('x = tr(en="a", ja="b")', "exactly two"),
    ('x = tr("a", tr("b", "c"))', "inside another"),
    ('x = tr("a", "b"', "does not parse"),
])
def test_a_malformed_tr_names_its_line(bad, why):
    with pytest.raises(ValueError, match=why):
        resolve_text(bad, "en")


def test_the_old_paired_lines_are_refused_with_the_new_form_named():
    source = ('plot(x, title="how much is left")          # en\n'
              'plot(x, title="どれだけ残っているか")        # ja\n'
              'y = 1  # english is not a marker\n'
              '# en')
    with pytest.raises(ValueError, match=r"tr\(english, japanese\)"):
        localize_code(source, "en")
    assert localize_code("y = 1  # english is not a marker\n# en", "ja").splitlines() == [
        "y = 1  # english is not a marker", "# en"]


def test_localize_code_keeps_its_half_of_a_comment_in_both_languages():
    source = "    scores = q @ k.T          # en: (T, T): one row per word  # ja: (T, T)：1 単語が 1 行"
    assert localize_code(source, "en") == "    scores = q @ k.T          # (T, T): one row per word"
    assert localize_code(source, "ja") == "    scores = q @ k.T          # (T, T)：1 単語が 1 行"


def test_localize_code_writes_slide_references_in_japanese():
    source = '''def f():
    """P(w | c) = C(c, w) / C(c)   (slide 24)

    x_t = add_noise(...)   (slides 25, 30)   (slide 47, Forward Process)
    """'''
    assert localize_code(source, "en") == source
    ja = localize_code(source, "ja").splitlines()
    assert ja[1].endswith("（スライド 24）") and "（スライド 25、30）" in ja[3] and "（スライド 47、Forward Process）" in ja[3]
    assert "slide" not in localize_code(source, "ja")


# -- build_lesson -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "ja"])
def test_build_lesson_keeps_only_its_language(lang):
    other = "ja" if lang == "en" else "en"
    nb = build_lesson(make_notebook(), lang, source_name="solutions/01_test.ipynb")
    sources = [c.source for c in nb.cells]
    assert len(nb.cells) == 5  # the other language's markdown cell is gone
    assert ("English prose." in sources) == (lang == "en")
    assert ("日本語の説明。" in sources) == (lang == "ja")
    assert "# Lesson" in sources
    assert all(other not in c.metadata.get("tags", []) for c in nb.cells)


def test_build_lesson_localizes_and_strips_code():
    nb = build_lesson(make_notebook(), "en")
    setup, answer, check = nb.cells[2], nb.cells[3], nb.cells[4]
    assert setup.source == "# setup\nimport math"
    assert "Return x plus one." in answer.source and "x に 1" not in answer.source
    assert "# the answer" in answer.source and "答え" not in answer.source
    assert "y = x + 1" not in answer.source
    assert answer.source.endswith('raise NotImplementedError("Exercise 1.1: f — replace this line with your code")')
    assert check.source == CHECK
    ja = build_lesson(make_notebook(), "ja")
    assert ja.cells[2].source == "# 準備\nimport math"
    assert "演習 1.1" in ja.cells[3].source and "x に 1 を足して返します。" in ja.cells[3].source


def test_build_lesson_clears_outputs_and_counts():
    nb = build_lesson(make_notebook(), "en")
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_build_lesson_metadata():
    nb = build_lesson(make_notebook(), "ja", source_name="solutions/01_test.ipynb")
    meta = nb.metadata["shikumi"]
    assert meta["lang"] == "ja"
    assert meta["lesson"] == "01_test"
    assert meta["source"] == "solutions/01_test.ipynb"
    assert "shikumi release" in meta["generated_by"]
    assert "version" not in nb.metadata["language_info"]
    nbformat.validate(nb)


def test_build_lesson_keeps_nbgrader_metadata():
    nb = build_lesson(make_notebook(), "en")
    assert exercises(nb) == [EX]


def test_build_lesson_does_not_touch_the_source():
    source = make_notebook()
    before = copy.deepcopy(source)
    build_lesson(source, "en")
    build_lesson(source, "ja")
    assert source == before


def test_build_lesson_rejects_unknown_language():
    with pytest.raises(ValueError, match="lang must be one of"):
        build_lesson(make_notebook(), "fr")


def test_build_lesson_reports_a_broken_exercise():
    nb = make_notebook(answer="def f(x):\n    return x + 1")
    with pytest.raises(ValueError, match="'f' has no ### BEGIN SOLUTION"):
        build_lesson(nb, "en")
