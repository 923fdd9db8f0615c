"""One hub for the room (`make hub`): a real JupyterHub on loopback, two participants and a presenter.

The participants sign up and log in over HTTP as a person would, get a token, start their servers, fetch lesson
01 from nbgrader's exchange (the Assignments tab's own endpoint), type their answers, run the notebook in a
kernel of their own server (over its websocket) and submit. The presenter collects with nbgrader and grades
with `shikumi grade`; the hub then stops and leaves no process behind.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from shikumi.course import hub, release
from tests.conftest import NBGRADER, ROOT

requests = pytest.importorskip("requests")
pytest.importorskip("jupyterhub", reason="JupyterHub is not installed: pip install -e '.[hub]'")
pytest.importorskip("nativeauthenticator", reason="NativeAuthenticator is not installed: pip install -e '.[hub]'")
websocket = pytest.importorskip("websocket", reason="websocket-client (a jupyter_server dependency) is missing")
psutil = pytest.importorskip("psutil")

LESSON = "01_ngram"
BOB_LEAVES = "greedy_generate"   # bob hands in without this answer: a lower grade, and proof grades are per person


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_for(check, timeout: float, what: str, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the hub exited ({proc.returncode}) while waiting for {what}")
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class Clock:
    def __init__(self):
        self.start = self.last = time.monotonic()
        self.laps = []

    def lap(self, what: str):
        now = time.monotonic()
        self.laps.append(f"{now - self.last:6.1f} s  {what}")
        self.last = now

    def __str__(self):
        return "\n".join([*self.laps, f"{time.monotonic() - self.start:6.1f} s  in all"])


class Browser:
    """A person at the hub's web pages: cookies, and the _xsrf token JupyterHub wants with every form."""

    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()

    def form(self, path: str, **fields) -> requests.Response:
        self.http.get(self.url + path, timeout=30)
        xsrf = self.http.cookies.get("_xsrf", path="/hub/")
        # Not following the login's redirect to /hub/spawn: the servers are started through the API below.
        return self.http.post(self.url + path, data={**fields, "_xsrf": xsrf}, timeout=60, allow_redirects=False)

    def sign_up(self, name: str, password: str) -> str:
        page = self.form("/hub/signup", username=name, signup_password=password,
                         signup_password_confirmation=password).text
        return re.sub(r"\s+", " ", " ".join(re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S)))

    def log_in(self, name: str, password: str) -> str | None:
        """A token for the hub's REST API, or None when the hub refused the login."""
        self.form("/hub/login", username=name, password=password)
        xsrf = self.http.cookies.get("_xsrf", path="/hub/")
        r = self.http.post(f"{self.url}/hub/api/users/{name}/tokens", json={"note": "test", "expires_in": 3600},
                           headers={"X-XSRFToken": xsrf, "Referer": self.url + "/hub/token"}, timeout=30)
        return r.json()["token"] if r.status_code == 201 else None


class Participant:
    def __init__(self, url: str, name: str, token: str):
        self.url, self.name = url, name
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"token {token}"
        self.server = f"{url}/user/{name}/"

    def start_server(self):
        r = self.api.post(f"{self.url}/hub/api/users/{self.name}/server", timeout=60)
        assert r.status_code in (201, 202), r.text

        def ready():
            model = self.api.get(f"{self.url}/hub/api/users/{self.name}", timeout=30).json()
            return model.get("servers", {}).get("", {}).get("ready")
        wait_for(ready, 180, f"{self.name}'s server")

    def contents(self, path: str) -> dict:
        r = self.api.get(self.server + "api/contents/" + path, timeout=30)
        assert r.status_code == 200, f"{self.name}: {path}: {r.status_code}"
        return r.json()

    def assignment(self, action: str) -> dict:
        r = self.api.post(self.server + f"assignments/{action}",
                          params={"course_id": "shikumi", "assignment_id": LESSON}, timeout=120)
        assert r.status_code == 200, r.text
        return r.json()

    def run_notebook(self, path: str) -> list[dict]:
        """Every code cell of `path`, in order, in a kernel of this participant's server; the error messages
        (none when the notebook runs through; the run stops at the first)."""
        r = self.api.post(self.server + "api/sessions", timeout=120,
                          json={"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}})
        assert r.status_code == 201, r.text
        session = r.json()
        ws_url = self.server.replace("http://", "ws://") + f"api/kernels/{session['kernel']['id']}/channels"
        ws = websocket.create_connection(ws_url, header=[f"Authorization: {self.api.headers['Authorization']}"],
                                         timeout=300)
        errors = []
        try:
            nb = nbformat.from_dict(self.contents(path)["content"])
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                msg_id = uuid.uuid4().hex
                ws.send(json.dumps({
                    "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.name,
                               "session": uuid.uuid4().hex, "version": "5.3"},
                    "parent_header": {}, "metadata": {}, "channel": "shell",
                    "content": {"code": cell.source, "silent": False, "store_history": True,
                                "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
                while True:
                    msg = json.loads(ws.recv())
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    if msg["msg_type"] == "error":
                        errors.append(msg["content"])
                    if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
                        break
                if errors:
                    break
        finally:
            ws.close()
            self.api.delete(self.server + f"api/sessions/{session['id']}", timeout=60)
        return errors


def answers(course: Path) -> dict[str, str]:
    source = nbformat.read(str(course / "source" / LESSON / f"{LESSON}.ipynb"), as_version=4)
    return {release.grade_id(c): c.source for c in source.cells if release.is_answer_cell(c)}


def a_participants_lesson(person: Participant, typed: dict[str, str]) -> list[dict]:
    person.start_server()
    # Their own copy of the released lessons, in their own folder.
    own = person.contents(f"lessons/en/{LESSON}.ipynb")["content"]
    assert own["metadata"]["shikumi"]["lang"] == "en"
    # The Assignments tab, not the instructor's tools (the formgrader would show the course folder).
    assert person.api.get(person.server + "formgrader", timeout=30).status_code == 404
    page = person.api.get(person.server + "lab", timeout=30).text
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    assert "@jupyter/nbgrader:formgrader" in config["disabledExtensions"]
    # Fetch from the exchange, answer, run, submit: what the Assignments tab does.
    listed = person.assignment("fetch")
    assert listed["success"], listed
    path = f"{LESSON}/{LESSON}.ipynb"
    nb = nbformat.from_dict(person.contents(path)["content"])
    for cell in nb.cells:
        if release.is_answer_cell(cell) and release.grade_id(cell) in typed:
            cell.source = typed[release.grade_id(cell)]
    r = person.api.put(person.server + "api/contents/" + path, timeout=60,
                       json={"type": "notebook", "format": "json", "content": nb})
    assert r.status_code == 200, r.text
    errors = person.run_notebook(path)
    submitted = person.assignment("submit")
    assert submitted["success"], submitted
    return errors


def process_tree(pid: int) -> list:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def alive(procs) -> list[str]:
    left = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return left


@pytest.fixture
def state():
    # Not pytest's tmp_path: its parent is closed to other users, and the hub's folder must not be.
    path = Path(tempfile.mkdtemp(prefix="shikumi-hub-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def study_session(state: Path, spawner: str) -> None:
    """The whole session on one hub. With the system spawner the participants are Unix accounts the hub makes
    (their names are random, so no real account is touched) and removes at the end."""
    suffix = "" if spawner == "simple" else uuid.uuid4().hex[:6]
    alice, bob = f"alice{suffix}", f"bob{suffix}"
    homes = state / "home" if spawner == "simple" else state / "homes"
    try:
        _study_session(state, spawner, alice, bob, homes)
    finally:
        if spawner == "system":
            for name in (alice, bob):
                subprocess.run(["userdel", "--remove", name], capture_output=True)


def _study_session(state: Path, spawner: str, alice: str, bob: str, homes: Path) -> None:
    clock = Clock()
    port, hub_port, api_port = free_ports(3)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), str(ROOT)])}
    log = (state / "hub.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shikumi.course.hub", "--state", str(state), "--spawner", spawner, "--homes", str(homes),
         "--ip", "127.0.0.1", "--port", str(port), "--hub-port", str(hub_port), "--proxy-api-port", str(api_port),
         "--admin", "sensei", "--users", f"{alice},{bob}", "--threads", "1", "--assignments", LESSON, "--root", str(ROOT)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    procs = []
    try:
        wait_for(lambda: requests.get(url + "/hub/api/", timeout=5).ok if _listening(port) else False,
                 240, "the hub", proc)
        clock.lap("hub prepared and started")
        course = state / "course"
        for secret in (course, state / "private"):   # the solutions and grades; the hub's database
            assert secret.stat().st_mode & 0o077 == 0, secret

        # Sign-up: the presenter's name is taken before anyone can claim it; a stranger waits for approval.
        intruder = Browser(url)
        assert "already" in intruder.sign_up("sensei", "a-Guess-2026").lower()
        assert intruder.log_in("sensei", "a-Guess-2026") is None
        stranger = Browser(url)
        stranger.sign_up("mallory", "m4llory-pass-word")
        assert stranger.log_in("mallory", "m4llory-pass-word") is None

        tokens = {}
        for name in (alice, bob):
            person = Browser(url)
            person.sign_up(name, f"{name}-s3cret-pass")
            tokens[name] = person.log_in(name, f"{name}-s3cret-pass")
            assert tokens[name], f"{name} could not log in"

        clock.lap("sign-ups and log-ins")
        typed = answers(course)
        bob_typed = {g: s for g, s in typed.items() if g != BOB_LEAVES}
        people = [Participant(url, alice, tokens[alice]), Participant(url, bob, tokens[bob])]
        with ThreadPoolExecutor(2) as pool:   # both at once, as in the room
            alice_errors, bob_errors = pool.map(a_participants_lesson, people, [typed, bob_typed])
        assert alice_errors == [], alice_errors
        assert [e["ename"] for e in bob_errors] == ["NotImplementedError"], bob_errors
        # Each in their own folder; neither sees the other's.
        assert (homes / alice / LESSON / f"{LESSON}.ipynb").exists()
        assert not (homes / alice / bob).exists()
        if spawner == "system":   # their files are theirs, and nobody else's
            assert (homes / alice / LESSON / f"{LESSON}.ipynb").stat().st_uid == pwd.getpwnam(alice).pw_uid
            assert (homes / bob).stat().st_mode & 0o077 == 0

        clock.lap("two participants: server, fetch, run lesson 01, submit")
        # The presenter: an admin of the hub.
        presenter = Browser(url)
        admin_token = presenter.log_in("sensei", (state / "private" / "admin-password").read_text().strip())
        assert admin_token
        users = requests.get(url + "/hub/api/users", headers={"Authorization": f"token {admin_token}"},
                             timeout=30).json()
        assert {alice, bob} <= {u["name"] for u in users}

        # Collect, then grade with the hidden checks.
        venv_env = {**env, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
        collect = subprocess.run([*NBGRADER, "collect", "--update", LESSON], cwd=course, env=venv_env,
                                 capture_output=True, text=True, timeout=300)
        assert collect.returncode == 0, collect.stderr
        for name in (alice, bob):
            assert (course / "submitted" / name / LESSON / f"{LESSON}.ipynb").exists()
        from autograder import sandbox
        clock.lap("presenter: admin log-in, collect")
        grade = subprocess.run([sys.executable, "-m", "shikumi", "grade", str(course / "submitted"),
                                "--out", str(state / "grades"), "--workers", "2",
                                *(["--no-sandbox"] if sandbox.unavailable() else [])],
                               env=venv_env, capture_output=True, text=True, timeout=900)
        handed_in = sorted(str(f.relative_to(course)) for f in (course / "submitted").rglob("*"))
        assert grade.returncode == 0, f"{grade.stdout}{grade.stderr}\nsubmitted: {handed_in}"
        with (state / "grades" / "gradebook.csv").open(encoding="utf-8") as f:
            book = {r["student_id"]: r for r in csv.DictReader(f)}
        assert set(book) == {alice, bob}
        assert float(book[alice]["score"]) == float(book[alice]["max_score"]) > 0
        assert 0 < float(book[bob]["score"]) < float(book[bob]["max_score"])

        clock.lap("shikumi grade")
        procs = process_tree(proc.pid)
        assert len(procs) >= 4, "the hub, its proxy and two servers"
    finally:
        if not procs and proc.poll() is None:
            procs = process_tree(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)   # what Ctrl-C in `make hub` does
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
    assert proc.returncode == 0, (state / "hub.log").read_text()[-3000:]
    end = time.monotonic() + 30
    while alive(procs) and time.monotonic() < end:
        time.sleep(0.5)
    left = alive(procs)
    for p in procs:   # never leave them to the next test, whatever the verdict
        try:
            p.kill()
        except psutil.Error:
            pass
    assert not left, f"still running after the hub stopped: {left}"
    clock.lap("hub stopped")
    print(clock)   # pytest -s shows where the time goes


needs_hub = pytest.mark.skipif(
    hub.proxy_command() is None,
    reason="configurable-http-proxy is not installed (`make hub` installs it with npm; Node.js needed)")


@needs_hub
def test_a_study_session_on_one_hub(state):
    """The presenter's default on a laptop or as a normal user: one folder per participant."""
    study_session(state, "simple")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# --- the pieces, cheaply ----------------------------------------------------------------------------------------

def test_a_participants_copy_of_the_lessons_is_never_overwritten(tmp_path):
    home = tmp_path / "ken"
    assert hub.prepare_home(home, ROOT / "lessons", ["en", "ja"]) == [home / "lessons" / "en", home / "lessons" / "ja"]
    mine = home / "lessons" / "en" / f"{LESSON}.ipynb"
    mine.write_text("my work", encoding="utf-8")
    assert hub.prepare_home(home, ROOT / "lessons", ["en", "ja"]) == []   # the next start
    assert mine.read_text(encoding="utf-8") == "my work"


@pytest.mark.parametrize("name", ["root", "daemon", "nobody"])
def test_an_account_the_hub_did_not_make_is_never_a_participants(tmp_path, name):
    # Signing up as "root" must not start a server as root (system spawner).
    with pytest.raises(hub.HubError, match="not created by this hub"):
        hub.ensure_system_user(name, tmp_path)


@pytest.mark.parametrize("name", ["Alice", "../etc", "a b", "-x", "x" * 40, ""])
def test_a_participants_name_is_a_safe_login_and_folder_name(tmp_path, name):
    with pytest.raises(hub.HubError, match="cannot be a participant's name"):
        hub.ensure_system_user(name, tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_hub_refuses_a_sign_up_name_that_is_not_a_safe_login():
    auth = pytest.importorskip("jupyterhub.auth", reason="JupyterHub is not installed: pip install -e '.[hub]'")
    authenticator = auth.Authenticator(username_pattern=hub.USERNAME_PATTERN)
    for good in ("aoi", "ken-2", "mei_s"):
        assert authenticator.validate_username(good), good
    for bad in ("aoi/../x", "aoi x", "aoi\n", "aoi.", "x" * 40, "-aoi", "1aoi"):
        assert not authenticator.validate_username(bad), bad


@pytest.mark.skipif(os.geteuid() != 0, reason="making a Unix account needs root")
def test_a_participants_account_is_made_once_and_is_theirs_alone(state):
    name = f"t{uuid.uuid4().hex[:8]}"
    try:
        first = hub.ensure_system_user(name, state / "homes")
        assert first.pw_gecos == hub.MARKER and first.pw_uid != 0
        assert Path(first.pw_dir) == state / "homes" / name
        assert Path(first.pw_dir).stat().st_mode & 0o777 == 0o700
        assert Path(first.pw_dir).stat().st_uid == first.pw_uid
        assert hub.ensure_system_user(name, state / "homes").pw_uid == first.pw_uid   # the next start
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True)


def test_the_launcher_refuses_bad_settings_in_one_sentence(tmp_path, state, capsys):
    from shikumi.course.hub.__main__ import closed_to_others, main

    assert main(["--state", str(tmp_path / "s"), "--admin", "Sensei!", "--prepare-only"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("make hub: 'Sensei!' cannot be a hub account") and "\n" not in err
    assert not (tmp_path / "s").exists()

    closed = state / "closed"
    (closed / "venv").mkdir(parents=True)
    closed.chmod(0o700)
    assert closed_to_others(closed / "venv") == closed   # the system spawner refuses such a course folder
    closed.chmod(0o755)
    assert closed_to_others(closed / "venv") is None


def test_make_installs_the_proxy_version_the_hub_names():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"HUB_PROXY_VERSION ?= {hub.PROXY_VERSION}\n" in makefile
