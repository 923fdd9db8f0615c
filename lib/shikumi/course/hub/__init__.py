"""One JupyterHub for the room: `make hub` (or `python -m shikumi.course.hub`).

The launcher (`__main__.py`) prepares a state folder (default `build/hub/`) and starts JupyterHub with
`jupyterhub_config.py` beside this file; that config reads its settings from `SHIKUMI_HUB_*` environment
variables and uses the pieces below:

- `RoomAuthenticator`: NativeAuthenticator (participants sign up with a name and a password; names on the
  allowed list are authorised at once, anyone else waits for the presenter) whose admin account exists from the
  hub's start, with the password the launcher generated, so nobody can sign up first under the presenter's name.
- `prepare_home`: the participant's own copy of the released lessons, made on their first start and never
  overwritten afterwards (their work stays theirs).
- `ensure_system_user`: with the system-user spawner, a Unix account per participant, created on first start;
  a name that belongs to an account the hub did not create (root, daemon, a colleague's login) is refused.

Nothing here is imported by the course's models or by the grader.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "jupyterhub_config.py"
PROXY_VERSION = "4.6.3"   # the last configurable-http-proxy that runs on Node 18 (Debian 12's nodejs)
MARKER = "shikumi hub participant"   # the GECOS field of the Unix accounts the hub creates
# A participant's name: also their Unix login (system-user spawner), their nbgrader student id and a folder name.
# Anchored at both ends: JupyterHub's Authenticator.username_pattern is applied with re.match (a prefix).
USERNAME_PATTERN = r"[a-z][a-z0-9_-]{0,30}\Z"


class HubError(Exception):
    """Something the presenter must fix before (or while) the hub runs: one sentence, no traceback."""


def proxy_command(prefix: str | os.PathLike | None = None) -> str | None:
    """configurable-http-proxy: the copy `make hub` installed into the venv (share/hub-proxy/), else the PATH's."""
    import sys

    local = Path(prefix or sys.prefix) / "share" / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    return shutil.which("configurable-http-proxy")


def valid_username(name: str) -> bool:
    return re.fullmatch(USERNAME_PATTERN, name) is not None


def prepare_home(home: Path, lessons: Path, langs: list[str]) -> list[Path]:
    """Copy the released lessons into `home/lessons/<lang>/` unless the participant already has that folder.
    Returns the folders copied (none on a second start: the participant's edits are never overwritten)."""
    copied = []
    for lang in langs:
        dest = home / "lessons" / lang
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(lessons / lang, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        copied.append(dest)
    return copied


def ensure_system_user(name: str, homes: Path) -> pwd.struct_passwd:
    """The participant's Unix account, created on first start (home `homes/<name>`, shell bash, its own group).
    Refuses (HubError) a name that is not a valid participant name, or that belongs to an account the hub did
    not create: the hub would otherwise start a server as root or as a colleague."""
    if not valid_username(name):
        raise HubError(f"{name!r} cannot be a participant's name: use lower-case letters, digits, '-' and '_'")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        entry = None
    if entry is None:
        homes.mkdir(parents=True, exist_ok=True)
        subprocess.run(["useradd", "--create-home", "--home-dir", str(homes / name), "--shell", "/bin/bash",
                        "--user-group", "--comment", MARKER, name],
                       check=True, capture_output=True, text=True)
        entry = pwd.getpwnam(name)
        os.chmod(entry.pw_dir, 0o700)   # a participant's work is theirs alone
    if entry.pw_gecos != MARKER or entry.pw_uid == 0:
        raise HubError(f"the Unix account {name!r} exists and was not created by this hub: "
                       "pick another participant name")
    return entry


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in files + dirs:
            os.chown(os.path.join(root, f), uid, gid, follow_symlinks=False)


def room_authenticator():
    """The authenticator class (imported lazily: the hub's packages are an extra, `pip install -e '.[hub]'`)."""
    from nativeauthenticator import NativeAuthenticator
    from traitlets import Unicode

    class RoomAuthenticator(NativeAuthenticator):
        """NativeAuthenticator with the presenter's account made before anyone can sign up."""

        admin_password_file = Unicode("", config=True, help="file holding the admin's first password")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if not self.admin_password_file:
                return
            password = Path(self.admin_password_file).read_text(encoding="utf-8").strip()
            for admin in self.admin_users:
                if self.get_user(admin) is None:
                    self.create_user(admin, password)

    return RoomAuthenticator


def pre_spawn_hook(spawner, settings: dict) -> None:
    """Before a participant's server starts: their account (system-user spawner) and their copy of the lessons.
    `settings` (from jupyterhub_config.py): spawner ("system" or "simple"), lessons, langs, homes."""
    name = spawner.user.name
    lessons = Path(settings["lessons"])
    langs = settings["langs"]
    if settings["spawner"] == "system":
        entry = ensure_system_user(name, Path(settings["homes"]))
        home = Path(entry.pw_dir)
        if prepare_home(home, lessons, langs):
            chown_tree(home / "lessons", entry.pw_uid, entry.pw_gid)
    else:
        if not valid_username(name):
            raise HubError(f"{name!r} cannot be a participant's name: use lower-case letters, digits, '-' and '_'")
        home = Path(spawner.home_dir)
        home.mkdir(parents=True, exist_ok=True)
        prepare_home(home, lessons, langs)
