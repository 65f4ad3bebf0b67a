"""Install what `make ab` needs when it is missing: memcached and valgrind
(Debian packages, as root) and matplotlib (pip)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

PACKAGES = {"memcached": "memcached", "valgrind": "valgrind", "callgrind_annotate": "valgrind", "taskset": "util-linux"}


def apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0:
        sys.exit(f"make ab: missing packages {' '.join(packages)} (run as root, or install them)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, timeout=1200,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    missing = sorted({pkg for cmd, pkg in PACKAGES.items() if shutil.which(cmd) is None})
    if missing:
        print(f"make ab: installing {' '.join(missing)}", flush=True)
        apt_install(missing)
    if importlib.util.find_spec("matplotlib") is None:
        print("make ab: installing matplotlib (pip)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"], check=True, timeout=1200)
    # Debian's memcached package starts a service on 11211; make ab never uses it.
    if shutil.which("systemctl"):
        subprocess.run(["systemctl", "stop", "memcached"], capture_output=True, timeout=60)


if __name__ == "__main__":
    main()
