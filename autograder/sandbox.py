"""Where a learner's code runs: a world of its own, built by bubblewrap, with limits on the whole run.

Each grading run is started like this (`command()` builds the argv):

    grader (this process)
      └─ [root only] bwrap ─ a private mount namespace that stages the read-only folders the run needs
           └─ [root only] setpriv ─ an unprivileged uid of its own, never 0
                └─ bwrap ─ the run's world: an empty root in new user, mount, PID, IPC, network, UTS and
                           cgroup namespaces, no capabilities, a new session, dies with the grader
                     └─ python /in/execute.py ─ papermill ─ the kernel with the learner's code

The world holds exactly what a run needs, nothing else, and nothing of it is shared:

- read-only: /usr (programs and shared libraries), a few files of /etc, the Python installation, the
  virtual environment, the `shikumi` library, and the run's inputs (`files`: the grading notebook, the
  runner, the check inputs), copied in from file descriptors — no host folder holds them;
- private tmpfs of bounded size: / itself, /tmp, /var/tmp, /dev/shm, the home folder and the working folder;
- a fresh /proc of its own PID namespace, a minimal /dev, only a loopback network device.

Solutions, hidden checks, `.git`, the grades and other learners' notebooks are not hidden: they simply are
not in the run's world. Results leave the run over one pipe that the grader opened (`channel`); the grader
never reads a file the run could have touched.

Limits hold for the run as a whole (`Limits`): memory (every process, and the files in its tmpfs), processes
and CPU time are enforced by a cgroup of its own where the machine lets the grader make one (cgroup v1 or
v2), else watched by the grader (`Watch`), which stops the whole run when one is exceeded.

Where bubblewrap or user namespaces are missing, `unavailable()` says how to get them; the grader then
refuses to grade unless told `--no-sandbox` (for trusted submissions only).
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

INSIDE_UID = 1000          # the learner's uid as the run sees itself (/etc/passwd inside says "learner")
HOME, WORK, INPUTS = "/home/learner", "/work", "/in"
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "mime.types")
HOW_TO_GET_IT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on a Linux machine that allows "
                 "user namespaces (sysctl kernel.unprivileged_userns_clone=1 where that setting exists)")


@dataclass(frozen=True)
class Limits:
    """What one run may use, all its processes together."""
    memory_mb: int = 6144      # resident memory plus the files it keeps in its tmpfs folders
    max_processes: int = 256   # processes and threads at once; grading lesson 01 peaks at about 20
    cpu_seconds: int = 3600    # CPU time, all processes together
    disk_mb: int = 512         # each writable folder (/tmp, /work, home…) is a tmpfs of this size
    output_mb: int = 64        # what the run may send back over its channel

    @property
    def max_processes_text(self) -> str:
        return str(self.max_processes)


MAX_PROCESSES = Limits.max_processes


# ------------------------------------------------------------------------------------------------
# Can this machine build the world?
# ------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """None when runs can be sandboxed here; else one line that says what is missing and how to get it."""
    if sys.platform != "linux":
        return f"the grader's sandbox needs Linux (this is {sys.platform}); {HOW_TO_GET_IT}"
    if shutil.which("bwrap") is None:
        return f"bubblewrap (bwrap) is not installed: {HOW_TO_GET_IT}"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing: the grader runs as root and needs it to leave root"
    probe = command([sys.executable, "-c", "import os; print('ok', os.getuid())"], {}, {})
    try:
        out = subprocess.run(probe, capture_output=True, text=True, timeout=60, pass_fds=data_fds(probe))
    except (OSError, subprocess.SubprocessError) as e:
        return f"bubblewrap could not start a sandbox ({type(e).__name__}): {HOW_TO_GET_IT}"
    finally:
        close_data(probe)
    if out.stdout.split() != ["ok", str(INSIDE_UID)]:
        why = (out.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return f"bubblewrap could not start a sandbox ({why}): {HOW_TO_GET_IT}"
    return None


def leave_root(cmd: list[str], uid: int) -> list[str]:
    """`cmd` as an unprivileged uid of its own, with no groups and no way back (setpriv, util-linux)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--", *cmd]


@functools.lru_cache(maxsize=1)
def can_leave_root() -> bool:
    """Without bubblewrap, as root (a Gradescope container): can an unprivileged uid run this Python with the
    course's packages? Not where Python lives in a folder only root may enter (/root/.pyenv): the run then
    stays root, and whoever calls this says so."""
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    import shikumi

    env = {"PATH": "/usr/bin:/bin", "HOME": "/", "PYTHONPATH": str(Path(shikumi.__file__).resolve().parent.parent)}
    start_kernel = ("import subprocess, sys, papermill, shikumi.course.selfcheck; "   # as papermill starts the kernel
                    "subprocess.run([sys.executable, '-c', 'import ipykernel'], check=True)")
    probe = leave_root([sys.executable, "-c", start_kernel], new_run_uid())
    try:
        return subprocess.run(probe, env=env, capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def describe(no_sandbox: bool = False) -> str:
    """The protection a run gets on this machine, in one line (the grade never depends on it)."""
    if no_sandbox:
        return "NO SANDBOX (--no-sandbox: trusted submissions only)"
    group = "cgroup" if cgroup_roots() else "watched by the grader"
    who = "its own unprivileged uid" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    return (f"bubblewrap: an empty world of its own (no network, own processes, IPC, tmpfs), {who}, "
            f"limits on the whole run ({group})")


# ------------------------------------------------------------------------------------------------
# The world
# ------------------------------------------------------------------------------------------------

def needed_folders() -> list[Path]:
    """The host folders a run reads: Python, the virtual environment, the `shikumi` library."""
    import shikumi

    folders = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(shikumi.__file__).resolve().parent}
    # the tree a symlinked interpreter lives in (a venv's bin/python → /root/.pyenv/versions/3.11.7/bin/python3)
    folders.add(Path(os.path.realpath(sys.executable)).parent.parent)
    # keep the outermost of nested ones
    return sorted(f for f in folders if not any(o != f and f.is_relative_to(o) for o in folders))


def _system_binds() -> list[str]:
    """/usr read-only, and /bin, /lib… as the host has them: symlinks into /usr (merged /usr) or folders."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _etc_data() -> dict[str, bytes]:
    return {"/etc/passwd": f"learner:x:{INSIDE_UID}:{INSIDE_UID}:learner:{HOME}:/bin/sh\n".encode(),
            "/etc/group": f"learner:x:{INSIDE_UID}:\n".encode(),
            "/etc/hosts": b"127.0.0.1 localhost\n::1 localhost\n",
            "/etc/hostname": b"sandbox\n"}


def command(cmd: list[str], files: dict[str, bytes], env: dict[str, str], limits: Limits = Limits(),
            keep_fds: tuple[int, ...] = (), run_uid: int | None = None) -> list[str]:
    """The argv that runs `cmd` in a world of its own. `files` {path inside: bytes} are copied in read-only
    (through file descriptors this function opens: call `close_files()` on the result's fds after the start —
    `Popen(..., pass_fds=data_fds(argv))`); `env` is the run's whole environment."""
    disk = str(limits.disk_mb * 2**20)
    world = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--hostname", "sandbox",
             "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID), "--cap-drop", "ALL", "--disable-userns",
             "--clearenv", *_system_binds(), "--proc", "/proc", "--dev", "/dev"]
    for folder in ("/tmp", "/var/tmp", "/dev/shm", HOME, WORK):
        world += ["--size", disk, "--perms", "0700" if folder in (HOME, WORK) else "1777", "--tmpfs", folder]
    for path, data in {**_etc_data(), **files}.items():
        world += ["--perms", "0444", "--ro-bind-data", str(_data_fd(data)), path]
    for key, value in env.items():
        world += ["--setenv", key, value]
    staging: list[str] = []
    folders = needed_folders()
    if os.geteuid() == 0:  # stage the folders where an unprivileged uid can reach them, then leave root
        staging = ["bwrap", "--dev-bind", "/", "/", "--tmpfs", "/tmp", "--die-with-parent"]
        for i, folder in enumerate(folders):  # /tmp here is the staging bwrap's own, seen by nobody else
            staging += ["--ro-bind", str(folder), f"/tmp/stage{i}"]
            world += ["--ro-bind", f"/tmp/stage{i}", str(folder)]
        uid = run_uid if run_uid is not None else new_run_uid()
        staging += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--"]
    else:
        for folder in folders:
            world += ["--ro-bind", str(folder), str(folder)]
    world += ["--chdir", WORK, "--", *cmd]
    return staging + world


def new_run_uid() -> int:
    """A uid no account has, different for every run: runs share nothing, not even a per-user limit."""
    return random.SystemRandom().randrange(1_000_000_000, 2_000_000_000)


_OPEN_DATA: dict[int, object] = {}


def _data_fd(data: bytes) -> int:
    """An unlinked temporary file holding `data`, as a file descriptor bubblewrap reads from."""
    f = tempfile.TemporaryFile()
    f.write(data)
    f.flush()
    f.seek(0)
    _OPEN_DATA[f.fileno()] = f
    return f.fileno()


def data_fds(argv: list[str]) -> list[int]:
    """The file descriptors `command()` opened for this argv (to pass to the child)."""
    fds = []
    for i, arg in enumerate(argv[:-1]):
        if arg == "--ro-bind-data" and argv[i + 1].isdigit() and int(argv[i + 1]) in _OPEN_DATA:
            fds.append(int(argv[i + 1]))
    return fds


def close_data(argv: list[str]) -> None:
    """Close what `command()` opened for this argv, once the run has started (bubblewrap has copied it)."""
    for fd in data_fds(argv):
        f = _OPEN_DATA.pop(fd, None)
        if f is not None:
            f.close()


# ------------------------------------------------------------------------------------------------
# Limits on the whole run: a cgroup of its own, else the grader watches
# ------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def cgroup_roots() -> dict[str, Path]:
    """{"v2": root} or {"memory": root, "pids": root, "cpuacct": root} where this process may create groups
    with the memory and pids controllers; {} where it may not."""
    try:
        mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return {}
    v1: dict[str, Path] = {}
    for _, where, fstype, options, *_ in mounts:
        root = Path(where)
        if fstype == "cgroup2" and {"memory", "pids"} <= set(_read(root / "cgroup.subtree_control").split()) \
                and os.access(root, os.W_OK):
            return {"v2": root}
        if fstype == "cgroup" and os.access(root, os.W_OK):
            for controller in ("memory", "pids", "cpuacct"):
                if controller in options.split(","):
                    v1.setdefault(controller, root)
    return v1 if {"memory", "pids"} <= set(v1) else {}


class Watch:
    """The limits of one run, enforced by a cgroup where the machine allows, else by looking every half
    second. `command(argv)` moves the run into its group before it starts anything; `exceeded(pid)` says
    which limit the run went over ("" if none); `kill(pid)` stops everything the run started."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.groups: dict[str, Path] = {}
        roots = cgroup_roots()
        self._remove_stale(roots)
        name = f"shikumi-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            if "v2" in roots:
                group = roots["v2"] / name
                group.mkdir()
                self.groups["v2"] = group
                (group / "memory.max").write_text(str(limits.memory_mb * 2**20))
                if (group / "memory.swap.max").exists():
                    (group / "memory.swap.max").write_text("0")
                (group / "pids.max").write_text(str(limits.max_processes))
            else:
                for controller, root in roots.items():
                    group = root / name
                    group.mkdir()
                    self.groups[controller] = group
                if "memory" in self.groups:
                    (self.groups["memory"] / "memory.limit_in_bytes").write_text(str(limits.memory_mb * 2**20))
                if "pids" in self.groups:
                    (self.groups["pids"] / "pids.max").write_text(str(limits.max_processes))
        except OSError:  # not ours to change after all: the grader watches instead
            self.close()
            self.groups = {}

    @staticmethod
    def _remove_stale(roots: dict[str, Path]) -> None:
        """Empty groups left by graders that were killed."""
        for root in set(roots.values()):
            for stale in root.glob("shikumi-*"):
                owner = stale.name.split("-")[1]
                if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                    try:
                        stale.rmdir()
                    except OSError:
                        pass

    def command(self, argv: list[str]) -> list[str]:
        if not self.groups:
            return argv
        procs = [str(g / "cgroup.procs") for g in self.groups.values()]
        script = 'for g in "$@"; do [ "$g" = -- ] && break; echo $$ > "$g" || exit 97; shift; done; shift; exec "$@"'
        return ["sh", "-c", script, "sh", *procs, "--", *argv]

    def exceeded(self, pid: int) -> str:
        """"memory", "processes", "cpu" or ""."""
        if "v2" in self.groups:
            g = self.groups["v2"]
            events = _keyed(_read(g / "pids.events"))
            if events.get("max", 0) > 0:
                return "processes"
            if _keyed(_read(g / "memory.events")).get("oom_kill", 0) > 0:
                return "memory"
            if _keyed(_read(g / "cpu.stat")).get("usage_usec", 0) > self.limits.cpu_seconds * 1e6:
                return "cpu"
            return ""
        if self.groups:
            if _keyed(_read(self.groups["pids"] / "pids.events")).get("max", 0) > 0:
                return "processes"
            if _keyed(_read(self.groups["memory"] / "memory.oom_control")).get("oom_kill", 0) > 0:
                return "memory"
            usage = _read(self.groups.get("cpuacct", Path("/nonexistent")) / "cpuacct.usage").strip()
            if usage.isdigit() and int(usage) > self.limits.cpu_seconds * 1e9:
                return "cpu"
            return ""
        return self._look(pid)

    def _look(self, pid: int) -> str:
        """No cgroup: count the run's processes and threads, add up their memory and CPU time."""
        import psutil

        try:
            family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return ""
        threads = memory = cpu = 0
        for p in family:
            try:
                with p.oneshot():
                    threads += p.num_threads()
                    memory += _proportional_memory(p.pid) or p.memory_info().rss
                    times = p.cpu_times()
                    cpu += times.user + times.system
            except psutil.Error:
                pass
        if threads >= self.limits.max_processes:
            return "processes"
        if memory > self.limits.memory_mb * 2**20:
            return "memory"
        if cpu > self.limits.cpu_seconds:
            return "cpu"
        return ""

    def cpu_seconds(self, pid: int) -> float:
        """CPU time the whole run has used so far."""
        if "v2" in self.groups:
            return _keyed(_read(self.groups["v2"] / "cpu.stat")).get("usage_usec", 0) / 1e6
        usage = _read(self.groups.get("cpuacct", Path("/nonexistent")) / "cpuacct.usage").strip()
        if usage.isdigit():
            return int(usage) / 1e9
        import psutil

        total = 0.0
        try:
            for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
                try:
                    times = p.cpu_times()
                    total += times.user + times.system
                except psutil.Error:
                    pass
        except psutil.NoSuchProcess:
            pass
        return total

    def kill(self, pid: int) -> None:
        """Stop the run `pid` and everything it started (the outermost first: its PID namespace dies with it)."""
        _kill_tree(pid)
        for group in self.groups.values():
            _empty(group)

    def close(self) -> None:
        for group in self.groups.values():
            _empty(group)
            try:
                group.rmdir()
            except OSError:
                pass


def _empty(group: Path) -> None:
    if (group / "cgroup.kill").exists():
        try:
            (group / "cgroup.kill").write_text("1")
        except OSError:
            pass
    for _ in range(100):
        pids = [int(p) for p in _read(group / "cgroup.procs").split()]
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _kill_tree(pid: int) -> None:
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
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _proportional_memory(pid: int) -> int:
    """A process's share of the memory it uses (PSS: pages shared by n processes count 1/n each), in bytes;
    0 where the kernel does not say. Forked processes share most of their pages: their RSS, added up,
    would count them many times over."""
    for line in _read(Path(f"/proc/{pid}/smaps_rollup")).splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def _keyed(text: str) -> dict[str, int]:
    """"max 3\\noom_kill 0" → {"max": 3, "oom_kill": 0}."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
