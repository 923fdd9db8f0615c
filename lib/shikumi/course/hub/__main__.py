"""`make hub` / `python -m shikumi.course.hub`: one JupyterHub for a study session.

    python -m shikumi.course.hub --admin sensei --users alice,bob --lang ja --assignments 01_ngram

Prepares the state folder (default build/hub/): the presenter's nbgrader course (course/, its assignments
generated and released to exchange/), the participants' nbgrader settings, the admin's first password; then
starts JupyterHub with jupyterhub_config.py. Ctrl-C stops the hub, every participant's server and the proxy.
The presenter then collects and grades:

    cd build/hub/course && nbgrader collect 01_ngram && shikumi grade submitted/ --out ../grades
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import stat
import sys
from pathlib import Path

from shikumi.course import hub

COURSE_CONFIG = """\
# nbgrader's settings for the presenter's course folder (written by `make hub`; edits are kept).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
{owner_line}
"""

PARTICIPANT_CONFIG = """\
# nbgrader's settings for every participant's server (written by `make hub`, found via JUPYTER_CONFIG_PATH).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
{student_line}
"""


def parse(argv: list[str] | None):
    p = argparse.ArgumentParser(prog="make hub HUB_ARGS=...", description="One JupyterHub for a study session.")
    p.add_argument("--admin", default="presenter", help="the presenter's hub account, an admin (default: presenter)")
    p.add_argument("--users", default="", help="participants let in at sign-up, comma-separated (others wait for "
                                               "the presenter at /hub/authorize)")
    p.add_argument("--ip", default="0.0.0.0", help="address to listen on (default 0.0.0.0: the room's network)")
    p.add_argument("--port", type=int, default=8000, help="the hub's public port (default 8000)")
    p.add_argument("--hub-port", type=int, default=8081, help="the hub's internal API port (default 8081)")
    p.add_argument("--proxy-api-port", type=int, default=8001, help="the proxy's API port (default 8001)")
    p.add_argument("--ssl-cert", help="serve HTTPS with this certificate (and --ssl-key)")
    p.add_argument("--ssl-key", help="the certificate's key")
    p.add_argument("--state", default="build/hub", help="the hub's folder: database, course, exchange, homes "
                                                        "(default build/hub)")
    p.add_argument("--spawner", choices=["auto", "system", "simple"], default="auto",
                   help="system: a Unix account per participant (needs root); simple: one folder each, all as "
                        "this user; auto (default): system when run as root")
    p.add_argument("--homes", default="/home", help="where participants' Unix accounts live (system spawner)")
    p.add_argument("--lang", choices=["en", "ja"], default="en", help="the edition of the nbgrader assignments")
    p.add_argument("--assignments", default="all",
                   help="lessons to release to the exchange, comma-separated (default: all), e.g. 01_ngram")
    p.add_argument("--threads", type=int, default=2, help="torch threads per participant's kernel (default 2): "
                                                          "a room of kernels shares the machine's cores")
    p.add_argument("--course-id", default="shikumi", help="nbgrader's course id (default shikumi)")
    p.add_argument("--root", default=None, help="the course checkout (default: the current folder if it has "
                                                "lessons/, else the installed one)")
    p.add_argument("--prepare-only", action="store_true", help="prepare the state folder, do not start the hub")
    return p.parse_args(argv)


def course_root(arg: str | None) -> Path:
    from shikumi.course import release

    if arg:
        return Path(arg).resolve()
    if (Path.cwd() / "lessons").is_dir() and (Path.cwd() / "solutions").is_dir():
        return Path.cwd().resolve()
    return release.course_root()


def closed_to_others(path: Path) -> Path | None:
    """The first folder on the way to `path` that other Unix users cannot pass through (or `path` itself, a file
    they cannot read), or None."""
    path = Path(path)
    for folder in [*reversed(path.parents), path]:
        mode = folder.stat().st_mode
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return folder
    if path.is_file() and not path.stat().st_mode & stat.S_IROTH:
        return path
    return None


def needed_by_participants(*folders: Path) -> list[Path]:
    """What a participant's server reads: the venv and the Python it was made from (a symlink's target too),
    the course's lessons and library, the exchange and the nbgrader settings."""
    paths = [*folders, Path(sys.executable).parent, Path(sys.executable).resolve(), Path(sys.base_prefix) / "lib",
             Path(__file__).resolve().parents[2]]
    paths += [Path(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [p for p in paths if p.exists()]


def release_assignments(course: Path, exchange: Path, course_id: str, lang: str, root: Path,
                        lessons: list[str] | None) -> list[str]:
    """nbgrader's source/ from the lesson sources, then generate_assignment and release_assignment for each.
    An assignment whose source did not change since it was released is left alone."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from shikumi.course import release

    before = {p: p.read_bytes() for p in (course / "source").glob("*/*.ipynb")}
    written = release.release_nbgrader(course, lang, root, lessons=lessons)
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = course_id
    config.Exchange.root = str(exchange)
    config.NbGraderAPI.log_level = "WARN"
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    released = []
    old_cwd = os.getcwd()
    os.chdir(course)   # nbgrader writes its gradebook.db in the course folder
    try:
        for path in written:
            name = path.parent.name
            outbound = exchange / course_id / "outbound" / name
            if outbound.is_dir() and before.get(path) == path.read_bytes():
                continue
            for step in ("generate_assignment", "release_assignment"):
                if step == "release_assignment" and outbound.exists():
                    shutil.rmtree(outbound)
                result = getattr(api, step)(name)
                if not result["success"]:
                    detail = (result.get("error") or result.get("log") or "").strip().splitlines()
                    raise hub.HubError(f"nbgrader {step} {name} failed: {detail[-1] if detail else '?'}")
            released.append(name)
    finally:
        os.chdir(old_cwd)
    return released


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def prepare(args) -> dict[str, str]:
    """The state folder, and the SHIKUMI_HUB_* settings jupyterhub_config.py reads."""
    from shikumi.course import release

    spawner = args.spawner
    if spawner == "auto":
        spawner = "system" if os.getuid() == 0 else "simple"
    if spawner == "system" and os.getuid() != 0:
        raise hub.HubError("the system spawner makes a Unix account per participant: run the hub as root "
                           "(sudo make hub), or use HUB_ARGS=\"--spawner simple\"")
    users = [u.strip() for u in args.users.split(",") if u.strip()]
    for name in [args.admin, *users]:
        if not hub.valid_username(name):
            raise hub.HubError(f"{name!r} cannot be a hub account: use lower-case letters, digits, '-' and '_', "
                               "starting with a letter")
    proxy = hub.proxy_command()
    if proxy is None:
        raise hub.HubError("configurable-http-proxy is missing: `make hub` installs it with npm (Node.js "
                           f"needed: apt-get install nodejs npm), or npm install configurable-http-proxy@{hub.PROXY_VERSION}")
    if bool(args.ssl_cert) != bool(args.ssl_key):
        raise hub.HubError("--ssl-cert and --ssl-key go together")
    root = course_root(args.root)
    lessons = root / "lessons"
    if not (lessons / "en").is_dir():
        raise hub.HubError(f"no released lessons in {lessons}: run `shikumi release` first")

    state = Path(args.state).resolve()
    state.mkdir(parents=True, exist_ok=True)
    course, exchange, config_dir = state / "course", state / "exchange", state / "jupyter-config"
    private = state / "private"
    state.chmod(0o755)
    # The course folder holds the complete solutions (source/), the submissions and the grades; private/ the
    # hub's database and the admin's password: neither is for the participants' eyes.
    for folder, mode in ((course, 0o700), (private, 0o700), (config_dir, 0o755)):
        folder.mkdir(exist_ok=True)
        folder.chmod(mode)
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)   # nbgrader: everyone writes below it (inbound), nobody removes another's files
    if spawner == "system":
        for needed in needed_by_participants(exchange, config_dir, lessons):
            blocked = closed_to_others(needed)
            if blocked is not None:
                raise hub.HubError(
                    f"the participants' Unix accounts cannot reach {needed}: {blocked} is closed to others; put "
                    "the course, its .venv and the Python it was made from where every account may read "
                    "(e.g. under /opt), or use --spawner simple")

    course_config = course / "nbgrader_config.py"
    if not course_config.exists():
        owner = ("c.ExchangeCollect.check_owner = False   # simple spawner: every file is the hub's user's"
                 if spawner == "simple" else "")
        course_config.write_text(COURSE_CONFIG.format(course_id=args.course_id, exchange=str(exchange),
                                                      owner_line=owner), encoding="utf-8")
    student = ('import os\n# simple spawner: one Unix user for all, so the hub\'s name is the student id\n'
               'c.CourseDirectory.student_id = os.environ.get("JUPYTERHUB_USER", "*")'
               if spawner == "simple" else "")
    (config_dir / "nbgrader_config.py").write_text(
        PARTICIPANT_CONFIG.format(course_id=args.course_id, exchange=str(exchange), student_line=student),
        encoding="utf-8")

    # Participants get the Assignments tab (fetch, submit) and the validate button, not the instructor's tools.
    write_json(config_dir / "jupyter_server_config.d" / "shikumi-hub.json", {"ServerApp": {"jpserver_extensions": {
        "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False}}})
    write_json(config_dir / "labconfig" / "page_config.json", {"disabledExtensions": {
        f"@jupyter/nbgrader:{name}": True for name in ("formgrader", "create-assignment", "course-list")}})

    wanted = None if args.assignments == "all" else [a.strip() for a in args.assignments.split(",") if a.strip()]
    known = [p.stem for p in release.sources(root)]
    unknown = [a for a in wanted or [] if a not in known]
    if unknown:
        raise hub.HubError(f"no lesson named {', '.join(unknown)} (the lessons: {', '.join(known)})")
    released = release_assignments(course, exchange, args.course_id, args.lang, root, wanted)
    if released:
        print(f"released to the exchange ({args.lang}): {', '.join(released)}")

    password_file = private / "admin-password"
    if not password_file.exists():
        password_file.touch(mode=0o600)
        password_file.write_text(secrets.token_urlsafe(12) + "\n", encoding="utf-8")

    settings = {
        "SHIKUMI_HUB_STATE": str(state),
        "SHIKUMI_HUB_SPAWNER": spawner,
        "SHIKUMI_HUB_IP": args.ip,
        "SHIKUMI_HUB_PORT": str(args.port),
        "SHIKUMI_HUB_HUB_PORT": str(args.hub_port),
        "SHIKUMI_HUB_PROXY_API_PORT": str(args.proxy_api_port),
        "SHIKUMI_HUB_PROXY": proxy,
        "SHIKUMI_HUB_ADMIN": args.admin,
        "SHIKUMI_HUB_USERS": ",".join(users),
        "SHIKUMI_HUB_LESSONS": str(lessons),
        "SHIKUMI_HUB_LANGS": "en,ja",
        "SHIKUMI_HUB_HOMES": str(Path(args.homes).resolve()),
        "SHIKUMI_HUB_JUPYTER_CONFIG": str(config_dir),
        "SHIKUMI_HUB_THREADS": str(max(1, args.threads)),
    }
    if args.ssl_cert:
        settings.update(SHIKUMI_HUB_SSL_CERT=str(Path(args.ssl_cert).resolve()),
                        SHIKUMI_HUB_SSL_KEY=str(Path(args.ssl_key).resolve()))
    return settings


def lan_address() -> str:
    """This machine's address on the room's network, as the participants type it (no packet is sent)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # The venv's commands first, for nbgrader (it runs `alembic`) and for the participants' terminals.
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([venv_bin, *(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                                      if p and p != venv_bin)])
    try:
        settings = prepare(args)
    except hub.HubError as e:
        print(f"make hub: {e}", file=sys.stderr)
        return 2
    state = Path(settings["SHIKUMI_HUB_STATE"])
    scheme = "https" if args.ssl_cert else "http"
    host = lan_address() if args.ip == "0.0.0.0" else args.ip
    print(f"hub: {scheme}://{host}:{args.port}/  (participants sign up at /hub/signup)")
    print(f"presenter: log in as {args.admin!r} with the password in {state / 'private' / 'admin-password'}")
    if settings["SHIKUMI_HUB_SPAWNER"] == "simple":
        who = "root — for a trusted room or a test only" if os.getuid() == 0 else "this user"
        print(f"spawner: simple — every participant's server runs as {who}, one folder each under {state / 'home'}")
    else:
        print(f"spawner: system — a Unix account per participant, homes under {settings['SHIKUMI_HUB_HOMES']}")
    if args.prepare_only:
        return 0
    sys.stdout.flush()
    jupyterhub = Path(sys.executable).parent / "jupyterhub"
    os.chdir(state)
    os.execve(str(jupyterhub), [str(jupyterhub), "-f", str(hub.CONFIG)], {**os.environ, **settings})


if __name__ == "__main__":
    sys.exit(main())
