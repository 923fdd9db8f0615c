# JupyterHub's configuration for a Shikumi study session. Started by `make hub` (python -m shikumi.course.hub),
# which prepares the state folder and passes its choices in SHIKUMI_HUB_* environment variables; see
# docs/instructor-guide.md, "One hub for the room", for what each piece is and how to swap it.
#
#   who logs in      NativeAuthenticator: participants sign up with a name and a password (hashed with bcrypt in
#                    the hub's database); names on the presenter's list are let in at once, anyone else waits
#                    for the presenter at /hub/authorize. The presenter's admin account exists from the start.
#   where they work  system (run as root): LocalProcessSpawner, one Unix account per participant, made on their
#                    first start; simple (not root): SimpleLocalProcessSpawner, one folder per participant,
#                    every server the hub's own Unix user (a trusted room, a laptop, the tests).
#   the course       installed once, in the venv this hub runs from; each participant gets a copy of the
#                    released lessons (lessons/en, lessons/ja) in their home on first start.
#   assignments      nbgrader's exchange: participants fetch and submit from JupyterLab's Assignments tab
#                    (or `nbgrader fetch_assignment` / `submit`); the presenter collects in the course folder.
import os
import sys
from pathlib import Path

import nativeauthenticator

from shikumi.course import hub

c = get_config()  # noqa: F821 (JupyterHub provides it)
env = os.environ
state = Path(env["SHIKUMI_HUB_STATE"])
private = state / "private"   # 0700: the hub's database (password hashes, tokens), its secret, the admin's password
spawner_kind = env.get("SHIKUMI_HUB_SPAWNER", "simple")

# --- where the hub listens, and its own files -----------------------------------------------------------------
c.JupyterHub.bind_url = f"http://{env.get('SHIKUMI_HUB_IP', '127.0.0.1')}:{env.get('SHIKUMI_HUB_PORT', '8000')}"
if env.get("SHIKUMI_HUB_SSL_CERT"):
    c.JupyterHub.ssl_cert = env["SHIKUMI_HUB_SSL_CERT"]
    c.JupyterHub.ssl_key = env["SHIKUMI_HUB_SSL_KEY"]
    c.JupyterHub.bind_url = c.JupyterHub.bind_url.replace("http://", "https://", 1)
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env.get("SHIKUMI_HUB_HUB_PORT", "8081"))
c.JupyterHub.db_url = f"sqlite:///{private / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(private / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.command = [env["SHIKUMI_HUB_PROXY"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env.get('SHIKUMI_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(private / "proxy.pid")
c.JupyterHub.cleanup_servers = True   # stopping the hub stops every participant's server (and the proxy)
c.JupyterHub.cleanup_proxy = True

# --- who logs in ----------------------------------------------------------------------------------------------
c.JupyterHub.authenticator_class = hub.room_authenticator()
c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]
c.Authenticator.admin_users = {env["SHIKUMI_HUB_ADMIN"]}
c.Authenticator.allowed_users = {u for u in env.get("SHIKUMI_HUB_USERS", "").split(",") if u}
# The list pre-authorises; NativeAuthenticator's own authorisation gates everyone else (the presenter can let
# a late-comer in at /hub/authorize), so every authorised account may log in.
c.Authenticator.allow_all = True
c.Authenticator.username_pattern = hub.USERNAME_PATTERN
c.RoomAuthenticator.admin_password_file = str(private / "admin-password")
c.NativeAuthenticator.minimum_password_length = 8
c.NativeAuthenticator.check_common_password = True
c.NativeAuthenticator.allowed_failed_logins = 5      # then 10 minutes' wait for that name
c.NativeAuthenticator.seconds_before_next_try = 600

# --- where they work ------------------------------------------------------------------------------------------
if spawner_kind == "system":
    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
else:
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
    if os.getuid() == 0:   # every server is the hub's user; the launcher said so loudly
        c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]   # the venv the course lives in
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180     # a room of servers starting at once on a small machine
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "JUPYTER_CONFIG_PATH": env["SHIKUMI_HUB_JUPYTER_CONFIG"],   # nbgrader_config.py: the course and its exchange
    "OMP_NUM_THREADS": env.get("SHIKUMI_HUB_THREADS", "2"),     # torch's threads: the room shares the cores
}
_settings = {
    "spawner": spawner_kind,
    "lessons": env["SHIKUMI_HUB_LESSONS"],
    "langs": env.get("SHIKUMI_HUB_LANGS", "en,ja").split(","),
    "homes": env.get("SHIKUMI_HUB_HOMES", "/home"),
}

c.Spawner.pre_spawn_hook = lambda spawner: hub.pre_spawn_hook(spawner, _settings)
