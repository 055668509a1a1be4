"""The same work as rdplay's helper, in pyinfra: close the old account's sessions, delete it with
its home, create the new one with a precomputed sha512-crypt hash, gather facts.

Variables come from the JSON file named by BENCH_VARS (0600: it holds the hash): old, new, hash.
"""

import json
import os

from pyinfra import host
from pyinfra.facts.hardware import BlockDevices, Cpus, Memory, NetworkDevices
from pyinfra.facts.server import Arch, Hostname, KernelVersion, Os, OsRelease
from pyinfra.operations import files, server

with open(os.environ["BENCH_VARS"], encoding="utf-8") as f:
    cfg = json.load(f)
old, new = cfg["old"], cfg["new"]

server.shell(name="close the old account's sessions", commands=[f"pkill -KILL -u {old} || true"])
server.user(name="delete the old account", user=old, present=False)
files.directory(name="delete its home", path=f"/home/{old}", present=False)
server.user(
    name="create the new account",
    user=new,
    password=cfg["hash"],
    shell="/bin/bash",
    home=f"/home/{new}",
    create_home=True,
)
# gather the same facts as rdplay's helper
for fact in (Hostname, Os, OsRelease, KernelVersion, Arch, Cpus, Memory, BlockDevices, NetworkDevices):
    host.get_fact(fact)
