"""The Gradescope bundle, run as Gradescope runs it: unpacked into a root laid out like /autograder (source/,
submission/, results/), `run_autograder` executed with GRADESCOPE_ROOT pointing there. setup.sh is not run
(it would install packages); it is checked to be valid bash naming the right packages."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from shikumi.course import gradescope
from tests.conftest import ROOT, make_submission

LESSON = "01_ngram"
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}


def check_results_shape(data) -> None:
    """Gradescope's results.json, as its autograder specification describes it (the keys it documents, their
    types and values), plus our own promise: the score is the sum of the tests' scores."""
    assert isinstance(data, dict) and set(data) <= TOP_KEYS, set(data) - TOP_KEYS

    def number(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    assert number(data["score"]) and data["score"] >= 0
    assert isinstance(data.get("execution_time", 0), int)
    assert isinstance(data["output"], str) and data["output"].strip()
    assert data.get("stdout_visibility", "visible") in VISIBILITY and data.get("visibility", "visible") in VISIBILITY
    assert isinstance(data.get("extra_data", {}), dict)
    assert isinstance(data["tests"], list)
    for test in data["tests"]:
        assert isinstance(test, dict) and set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert number(test["score"]) and number(test["max_score"]) and 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITY
        assert isinstance(test["name"], str) and isinstance(test["number"], str) and isinstance(test["output"], str)
    if data["tests"]:
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return gradescope.build(LESSON, tmp_path_factory.mktemp("bundle") / "autograder.zip", lang="en",
                            visibility="after_published", root=ROOT)


def gradescope_root(tmp_path: Path, bundle: Path) -> Path:
    """/autograder as Gradescope lays it out: the zip unpacked in source/, run_autograder copied beside it."""
    root = tmp_path / "autograder"
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    (root / "run_autograder").chmod(0o755)
    return root


def run_autograder(root: Path, path_prefix: str = "", python: str = sys.executable) -> dict:
    env = {"PATH": f"{path_prefix}/usr/local/bin:/usr/bin:/bin", "GRADESCOPE_ROOT": str(root),
           "SHIKUMI_PYTHON": python, "HOME": str(root), "LANG": "C.UTF-8"}
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    check_results_shape(data)
    data["_stdout"] = proc.stdout
    return data


def one_sentence(data: dict) -> str:
    assert data["score"] == 0 and data["tests"] == []
    assert "\n" not in data["output"] and "Traceback" not in data["output"]
    return data["output"]


def test_the_bundle_is_what_gradescope_expects(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
        reqs = zf.read("requirements.txt").decode().split()
        config = json.loads(zf.read("shikumi-gradescope.json"))
    assert {"setup.sh", "run_autograder"} <= names   # at the zip's root, not in a folder
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert {n for n in names if n.startswith("solutions/")} == {f"solutions/{LESSON}.py"}
    assert {n for n in names if n.startswith("autograder/checks/")} == {"autograder/checks/__init__.py",
                                                                          f"autograder/checks/l{LESSON}.py"}
    assert "lib/shikumi/checkpoints/SHA256SUMS" in names and "autograder/gradescope.py" in names
    assert config == {"lesson": LESSON, "lang": "en", "visibility": "after_published", "timeout": 540,
                      "max_score": 10.0}
    for script in (setup, run):
        assert script.startswith("#!/usr/bin/env bash\n")
        assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert re.search(r"apt-get install .*\bbubblewrap\b", setup) and "python3-venv" in setup
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    torch = re.search(r'"(torch[^"]*)"', pyproject).group(1)
    assert f'"{torch}" --index-url https://download.pytorch.org/whl/cpu' in setup
    assert "-r /autograder/source/requirements.txt" in setup
    assert {"papermill>=2.5", "ipykernel>=6", "nbformat>=5.9"} <= set(reqs)
    assert not any(r.startswith(("jupyterlab", "nbgrader")) for r in reqs)
    assert "python -m autograder.gradescope" in run.replace('"$PYTHON"', "python")


@pytest.mark.notebook
def test_a_complete_notebook_gets_full_marks(tmp_path, bundle, solutions):
    root = gradescope_root(tmp_path, bundle)
    make_submission(root / "submission", LESSON, solutions[LESSON], name="my homework.ipynb")
    data = run_autograder(root)
    assert data["score"] == 10 and len(data["tests"]) == 5
    assert all(t["status"] == "passed" and t["visibility"] == "after_published" for t in data["tests"])
    assert data["stdout_visibility"] == "hidden"


def test_a_blank_notebook_gets_zero(tmp_path, bundle):
    root = gradescope_root(tmp_path, bundle)
    make_submission(root / "submission", LESSON, {})
    data = run_autograder(root)
    assert data["score"] == 0 and [t["score"] for t in data["tests"]] == [0] * 5
    assert all("NotImplementedError" in t["output"] for t in data["tests"])


@pytest.fixture
def open_tmp():
    """A folder any uid may pass through (pytest's own tmp_path is root's alone when tests run as root)."""
    base = Path(tempfile.mkdtemp(prefix="shikumi-gradescope-", dir="/tmp"))
    base.chmod(0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def python_any_uid_can_run(base: Path) -> str | None:
    """As on Gradescope (Python in /usr, a venv in /opt): a venv of the system's Python, of this Python's
    version, that borrows this environment's packages — where this Python itself lives under /root (0700)."""
    system = Path("/usr/bin/python3")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not system.exists() or subprocess.run([str(system), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                             capture_output=True, text=True).stdout.strip() != version:
        return None
    venv = base / "venv"
    if subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], capture_output=True).returncode:
        return None
    purelib = subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True).stdout.strip()
    Path(purelib, "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return str(venv / "bin/python")


@pytest.mark.notebook
def test_where_bubblewrap_cannot_start_the_run_leaves_root(open_tmp, bundle, solutions):
    """As in a Docker container without user namespaces: bwrap is installed but cannot make a sandbox. The
    notebook runs without it, as an unprivileged uid that cannot read the lesson's solution; the result says so."""
    fake = open_tmp / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    drop = open_tmp / "drop"   # where the learner's code reports what it could do
    drop.mkdir()
    drop.chmod(0o777)
    root = gradescope_root(open_tmp, bundle)
    probe = (f"import os as _os\ntry:\n    open({str(root / 'source/solutions' / (LESSON + '.py'))!r}).read()\n"
             "    _seen = 'read'\nexcept OSError as _e:\n    _seen = type(_e).__name__\n"
             f"with open({str(drop / 'probe.txt')!r}, 'w') as _f:\n    _f.write(f'{{_os.getuid()}} {{_seen}}')\n")
    answers = {**solutions[LESSON], "count_ngrams": probe + solutions[LESSON]["count_ngrams"]}
    make_submission(root / "submission", LESSON, answers, lang="ja")
    python = python_any_uid_can_run(open_tmp)
    data = run_autograder(root, path_prefix=f"{fake}:", python=python or sys.executable)
    assert data["score"] == 10
    assert "サンドボックスなしで採点しました" in data["output"] and "No permissions" in data["output"]
    assert "コンテナ" in data["output"] and "--no-sandbox" not in data["output"]   # not "trusted only"
    assert data["extra_data"]["sandbox"].startswith("none (bubblewrap could not start")
    uid, seen = (drop / "probe.txt").read_text().split()
    if os.geteuid() == 0 and python:   # Gradescope's case: root in the container, a Python any uid can run
        assert uid != "0" and seen == "PermissionError"
        assert "一般ユーザー" in data["output"] and data["extra_data"]["sandbox"].endswith("ran as an unprivileged uid")
        assert "runs as an unprivileged uid" in data["_stdout"]
    else:   # said as it is: the run stayed root (or was never root)
        assert data["extra_data"]["sandbox"].endswith("ran as root")


def test_submissions_that_cannot_be_graded_get_zero_and_one_sentence(tmp_path, bundle):
    cases = {}
    root = gradescope_root(tmp_path / "none", bundle)
    (root / "submission" / "notes.txt").write_text("see attached", encoding="utf-8")
    cases["none"] = one_sentence(run_autograder(root))
    assert "No notebook was handed in (found: notes.txt)" in cases["none"]

    root = gradescope_root(tmp_path / "missing", bundle)
    (root / "submission").rmdir()
    assert "No notebook was handed in" in one_sentence(run_autograder(root))

    root = gradescope_root(tmp_path / "two", bundle)
    make_submission(root / "submission", LESSON, {}, name="try1.ipynb")
    (root / "submission" / "old").mkdir()
    make_submission(root / "submission" / "old", LESSON, {}, name="try0.ipynb")
    assert "2 notebooks were handed in (old/try0.ipynb, try1.ipynb)" in one_sentence(run_autograder(root))

    root = gradescope_root(tmp_path / "wrong", bundle)   # lesson 02, even under lesson 01's file name
    (root / "submission" / f"{LESSON}.ipynb").write_bytes((ROOT / "lessons/en/02_attention.ipynb").read_bytes())
    assert "This notebook is lesson 02_attention, but this assignment is lesson 01_ngram" in \
        one_sentence(run_autograder(root))

    root = gradescope_root(tmp_path / "garbage", bundle)
    (root / "submission" / f"{LESSON}.ipynb").write_text("{not json", encoding="utf-8")
    assert "not valid JSON" in one_sentence(run_autograder(root))

    root = gradescope_root(tmp_path / "stranger", bundle)   # a notebook of no lesson of ours
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hi')")])
    nbformat.write(nb, str(root / "submission" / "homework.ipynb"))
    assert "cannot tell which lesson" in one_sentence(run_autograder(root))


def test_messages_before_a_notebook_is_read_speak_the_editions_language(tmp_path):
    bundle = gradescope.build("1", tmp_path / "ja.zip", lang="ja", root=ROOT)
    root = gradescope_root(tmp_path, bundle)
    assert "ノートブックが提出されていません" in one_sentence(run_autograder(root))


def test_a_broken_autograder_still_writes_results(tmp_path, bundle):
    root = gradescope_root(tmp_path, bundle)
    (root / "source" / "shikumi-gradescope.json").write_text("{", encoding="utf-8")
    make_submission(root / "submission", LESSON, {})
    data = run_autograder(root)
    assert "The autograder failed (JSONDecodeError), not your notebook" in one_sentence(data)
    assert "Traceback" in data["_stdout"]   # for the instructor, in Gradescope's hidden stdout


def test_no_python_still_writes_results(tmp_path, bundle):
    root = gradescope_root(tmp_path, bundle)
    env = {"PATH": "/usr/bin:/bin", "GRADESCOPE_ROOT": str(root), "SHIKUMI_PYTHON": str(tmp_path / "nope")}
    proc = subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "did setup.sh fail" in proc.stdout
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    check_results_shape(data)
    assert data["score"] == 0


def test_the_command_refuses_bad_input_in_one_line(tmp_path):
    for args, words in ((["99"], "no lesson '99'"), ([LESSON, "--visibility", "later"], "invalid choice")):
        proc = subprocess.run([sys.executable, "-m", "shikumi", "gradescope", *args, "-o", str(tmp_path / "a.zip"),
                               "--root", str(ROOT)], capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0 and words in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "a.zip").exists()
