"""Where a learner's code runs: its own process tree, cut off from everything it has no business touching.

The grading notebook is executed by `python -m autograder.execute` wrapped like this, as far as the machine
allows (`describe()` says which layers are active; the grade never depends on them, only the protection does):

1. namespaces (util-linux `unshare`): a new network namespace with only a loopback device (no network), a
   new PID namespace (every process the learner starts dies with the run), a new cgroup namespace (the run
   does not see the name of its group), and a new mount namespace in which the hidden checks, the
   solutions, the other learners' submissions, the grades folder and /sys/fs/cgroup are covered by empty
   read-only tmpfs mounts, and /tmp and /dev/shm are small private tmpfs; the course, the virtual
   environment and Python itself are mounted read-only, so nothing a run does outlives it;
2. fewer rights: no capabilities (so those mounts cannot be undone), and when the grader runs as root and
   the interpreter is reachable by `nobody`, another user;
3. resource limits (set by autograder.execute): memory, file size, processes, CPU time;
4. a process limit that holds for root too (`ProcessLimit`): RLIMIT_NPROC does not bind uid 0, so the run
   is started in a pids cgroup of its own when the machine allows it, and the grader watches its size.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

NOBODY = 65534
MAX_PROCESSES = 256  # processes and threads of one run at once; grading lesson 01 peaks at about 20


def work_dir() -> Path:
    """A fresh folder for one run, outside /tmp (which the sandbox replaces) and reachable by `nobody`."""
    base = Path("/var/tmp") if os.access("/var/tmp", os.W_OK) else Path(tempfile.gettempdir())
    path = Path(tempfile.mkdtemp(dir=base))
    path.chmod(0o755)
    return path


def _switch_user() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


@functools.lru_cache(maxsize=1)
def namespace_mode() -> str | None:
    """"root" (we are root: plain unshare), "user" (unprivileged user namespaces) or None (unavailable)."""
    if shutil.which("unshare") is None or sys.platform != "linux":
        return None
    for mode, flags in (("root", []), ("user", ["--user", "--map-root-user"])):
        if mode == "root" and os.geteuid() != 0:
            continue
        test = ["unshare", *flags, "--net", "--mount", "--pid", "--cgroup", "--fork", "sh", "-c",
                "mount -t tmpfs tmpfs /mnt 2>/dev/null || mount -t tmpfs tmpfs /tmp; echo ok"]
        try:
            if subprocess.run(test, capture_output=True, text=True, timeout=20).stdout.strip() == "ok":
                return mode
        except (OSError, subprocess.SubprocessError):
            pass
    return None


def wrap(cmd: list[str], work: Path, hide: list[Path]) -> list[str]:
    """`cmd` wrapped in the sandbox layers this machine supports."""
    drop = ["setpriv", "--no-new-privs"]
    if _switch_user() and _nobody_can_run(cmd[0]):
        for sub in ("", "run", "io/outputs"):
            os.chown(work / sub, NOBODY, NOBODY)
        drop += [f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    mode = namespace_mode()
    if mode is None:
        return [*drop, "--", *cmd] if len(drop) > 2 else cmd
    script = ["set -e", "ip link set lo up 2>/dev/null || true"]
    for path in _read_only(work):  # nothing the run can change outlives it: course, venv, Python
        script += [f"mount --bind {q(path)} {q(path)}", f"mount -o remount,bind,ro {q(path)}"]
    for path in [*hide, Path("/sys/fs/cgroup")]:  # the cgroups too: the run must not lift its own limit
        if path.is_dir() and not _needed(path, work):
            script.append(f"mount -t tmpfs -o ro,size=64k,mode=0555 shikumi-hidden {q(path)}")
    for tmp in ("/tmp", "/dev/shm"):  # a private, size-limited /tmp — unless the course itself lives there
        if Path(tmp).is_dir() and not _needed(Path(tmp), work):
            script.append(f"mount -t tmpfs -o size=512m,mode=1777 shikumi-tmp {tmp}")
    # no capabilities from here on: the mounts above cannot be undone, even by (namespaced) root
    script.append("exec " + shlex.join([*drop, "--inh-caps=-all", "--bounding-set=-all", "--", *cmd]))
    flags = ["--user", "--map-root-user"] if mode == "user" else []
    return ["unshare", *flags, "--net", "--mount", "--pid", "--cgroup", "--fork", "--kill-child", "--mount-proc",
            "sh", "-c", "\n".join(script)]


def q(path: Path) -> str:
    return shlex.quote(str(path))


def _read_only(work: Path) -> list[Path]:
    from shikumi import release

    candidates = {release.course_root(), Path(sys.prefix), Path(sys.base_prefix)}
    return sorted(p.resolve() for p in candidates if p.is_dir() and not Path(work).resolve().is_relative_to(p.resolve()))


def _needed(path: Path, work: Path) -> bool:
    """A folder the run itself needs (it holds the venv, the library, the grader or the work folder)."""
    import shikumi

    path = path.resolve()
    needed = [Path(sys.prefix), Path(sys.base_prefix), Path(shikumi.__file__).parent,
              Path(__file__).parent / "execute.py", Path(work)]
    return any(p.resolve().is_relative_to(path) for p in needed)


@functools.lru_cache(maxsize=4)
def _nobody_can_run(python: str) -> bool:
    """Can `nobody` start this Python, can that Python start itself again (as the kernel launch does), and
    read the packages a run needs? Not when the interpreter lives under /root, for example; then the run
    stays root, without capabilities. The cheap question first, and no imports: this runs once per grader."""
    script = ("import importlib.util, subprocess, sys\n"
              "subprocess.run([sys.executable, '-c', 'pass'], check=True)\n"
              "for name in ('shikumi', 'autograder.execute', 'papermill', 'ipykernel', 'torch'):\n"
              "    open(importlib.util.find_spec(name).origin, 'rb').close()\n")
    check = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", python, "-c", script]
    try:
        return subprocess.run(check, capture_output=True, timeout=60, cwd="/").returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class ProcessLimit:
    """At most `limit` processes and threads in one run, whoever runs it (RLIMIT_NPROC does not bind root).

    Where the machine lets the grader create a pids cgroup (cgroup v2 with the pids controller, or the v1
    pids hierarchy: usually when it runs as root), the run starts inside a group of its own whose `pids.max`
    the kernel enforces, and `exceeded()` says whether a fork was refused. Elsewhere `exceeded()` counts the
    run's processes. Either way the grader stops the whole run as soon as `exceeded()` is true.
    """

    def __init__(self, limit: int = MAX_PROCESSES):
        self.limit = limit
        self.group = _new_pids_group(limit)

    def command(self, cmd: list[str]) -> list[str]:
        """`cmd`, moved into the group before it can start anything."""
        if self.group is None:
            return cmd
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.group / "cgroup.procs"), *cmd]

    def exceeded(self, pid: int) -> bool:
        """Did the run (`pid` and everything under it) reach the limit?"""
        if self.group is not None:
            events = dict(line.split() for line in _read(self.group / "pids.events").splitlines() if line.strip())
            return int(events.get("max", 0)) > 0
        import psutil

        try:
            return len(psutil.Process(pid).children(recursive=True)) >= self.limit
        except psutil.NoSuchProcess:
            return False

    def kill_all(self, pid: int) -> None:
        """Stop the run `pid` and everything it started: every process in the group, else its process tree."""
        if self.group is None:
            _kill_tree(pid)
        else:
            self._empty()

    def close(self) -> None:
        """Remove the group, once whatever was left in it is gone (normally nothing: the PID namespace took it)."""
        if self.group is not None:
            self._empty()
            try:
                self.group.rmdir()
            except OSError:
                pass

    def _empty(self) -> None:
        for _ in range(100):
            pids = [int(p) for p in _read(self.group / "cgroup.procs").split()]
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)


def _kill_tree(pid: int) -> None:
    """Kill `pid` and every process under it, the outermost first (the PID namespace, if any, dies with it)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(p) for p in family):
        time.sleep(0.05)


def _running(process) -> bool:
    """Still running: neither gone nor a zombie (whose parent has yet to reap it; it holds nothing)."""
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@functools.lru_cache(maxsize=1)
def _pids_root() -> Path | None:
    """The folder in which this machine lets us create pids cgroups, if any."""
    try:
        mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return None
    for _, where, fstype, options, *_ in mounts:
        root = Path(where)
        v1 = fstype == "cgroup" and "pids" in options.split(",")
        v2 = fstype == "cgroup2" and "pids" in _read(root / "cgroup.subtree_control").split()
        if (v1 or v2) and os.access(root, os.W_OK):
            return root
    return None


def _new_pids_group(limit: int) -> Path | None:
    root = _pids_root()
    if root is None:
        return None
    for stale in root.glob("shikumi-*"):  # left by a grader that was killed: empty groups of dead graders
        owner = stale.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                stale.rmdir()
            except OSError:
                pass
    group = root / f"shikumi-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
        (group / "pids.max").write_text(str(limit))
        return group
    except OSError:  # not ours to change after all: fall back on counting
        try:
            group.rmdir()
        except OSError:
            pass
        return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def describe() -> str:
    layers = []
    if namespace_mode():
        layers.append(f"namespaces ({namespace_mode()}: no network, hidden folders, own processes)")
    if _switch_user() and _nobody_can_run(sys.executable):
        layers.append("user nobody")
    elif shutil.which("setpriv"):
        layers.append("no capabilities")
    layers.append("resource limits")
    layers.append(f"at most {MAX_PROCESSES} processes ({'cgroup pids.max' if _pids_root() else 'watchdog'})")
    return ", ".join(layers)
