"""Where a learner's code runs: its own process tree, cut off from everything it has no business touching.

The grading notebook is executed by `python -m autograder.execute` wrapped like this, as far as the machine
allows (`describe()` says which layers are active; the grade never depends on them, only the protection does):

1. namespaces (util-linux `unshare`): a new network namespace with only a loopback device (no network), a
   new PID namespace (every process the learner starts dies with the run), and a new mount namespace in
   which the hidden checks, the solutions, the other learners' submissions and the grades folder are
   covered by empty read-only tmpfs mounts, and /tmp and /dev/shm are small private tmpfs;
   The course, the virtual environment and Python itself are mounted read-only, so nothing a run does
   outlives it;
2. fewer rights: no capabilities (so those mounts cannot be undone), and when the grader runs as root and
   the interpreter is reachable by `nobody`, another user;
3. resource limits (set by autograder.execute): memory, file size, processes, CPU time.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NOBODY = 65534


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
        test = ["unshare", *flags, "--net", "--mount", "--pid", "--fork", "sh", "-c",
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
    for path in hide:
        if path.is_dir() and not _needed(path, work):
            script.append(f"mount -t tmpfs -o ro,size=64k,mode=0555 shikumi-hidden {q(path)}")
    for tmp in ("/tmp", "/dev/shm"):  # a private, size-limited /tmp — unless the course itself lives there
        if Path(tmp).is_dir() and not _needed(Path(tmp), work):
            script.append(f"mount -t tmpfs -o size=512m,mode=1777 shikumi-tmp {tmp}")
    # no capabilities from here on: the mounts above cannot be undone, even by (namespaced) root
    script.append("exec " + shlex.join([*drop, "--inh-caps=-all", "--bounding-set=-all", "--", *cmd]))
    flags = ["--user", "--map-root-user"] if mode == "user" else []
    return ["unshare", *flags, "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
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
    """Can `nobody` start this Python, and can that Python start itself again (as the kernel launch does)?
    Not when the interpreter lives under /root, for example; then the run stays root, without capabilities."""
    check = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", python, "-c",
             "import subprocess, sys; import shikumi, autograder.execute, papermill, ipykernel; "
             "subprocess.run([sys.executable, '-c', 'import shikumi'], check=True)"]
    try:
        return subprocess.run(check, capture_output=True, timeout=60, cwd="/").returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def describe() -> str:
    layers = []
    if namespace_mode():
        layers.append(f"namespaces ({namespace_mode()}: no network, hidden folders, own processes)")
    if _switch_user() and _nobody_can_run(sys.executable):
        layers.append("user nobody")
    elif shutil.which("setpriv"):
        layers.append("no capabilities")
    layers.append("resource limits")
    return ", ".join(layers)
