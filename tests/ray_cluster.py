"""A real two-node Ray cluster on 127.0.0.1 for the tests, started and stopped by its own PIDs.

Each node is a `ray start --block` in its own session (process group); the GCS, raylet and every
worker it forks stay in that group, so stopping means signalling those two groups — never `ray stop`,
which would stop every Ray on the machine. Its temp dir is private, which is also how leftovers are
found: any process whose command line names it.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

# The `ray` command of this interpreter (a venv with system site packages has none of its own).
RAY = ([str(Path(sys.executable).with_name("ray"))] if Path(sys.executable).with_name("ray").exists()
       else [sys.executable, "-m", "ray.scripts.scripts"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_naming(text: str) -> List[int]:
    """PIDs of live processes whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if text.encode() in cmdline:
                found.append(int(entry))
    return found


def process_title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class LocalCluster:
    """Head (1 CPU) + one worker node (1 CPU), 80 MB object store each, on 127.0.0.1."""

    def __init__(self, cpus_per_node: int = 1, object_store_mb: int = 80):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Short path: Ray's unix sockets live under it (108-byte limit).
        self.temp_dir = tempfile.mkdtemp(prefix="zsray")
        self.nodes: List[subprocess.Popen] = []
        self._seen: set = set()  # every PID of this cluster seen so far (orphans lose their parent)
        common = ["--block", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus_per_node}",
                  f"--object-store-memory={object_store_mb * 1024 * 1024}", "--disable-usage-stats"]
        # Ray >= 2.5x turns token authentication on for clusters; a private token per cluster, given
        # to every process of this cluster and its drivers (``env``), keeps it on without touching
        # the user's ~/.ray/auth_token.
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self._start([*RAY, "start", "--head", f"--port={self.port}", f"--temp-dir={self.temp_dir}",
                     "--include-dashboard=false", *common])
        self._wait_for_nodes(1)
        self._start([*RAY, "start", f"--address={self.address}", *common])
        self._wait_for_nodes(2)

    def _start(self, argv: List[str]) -> None:
        log = open(os.path.join(self.temp_dir, f"node{len(self.nodes)}.log"), "wb")
        self.nodes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                           start_new_session=True))

    def _wait_for_nodes(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "print(sum(1 for x in ray.nodes() if x['Alive']))")
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.poll() is not None:
                    raise RuntimeError(f"a Ray node exited ({node.returncode}); see {self.temp_dir}/node*.log")
            out = subprocess.run([sys.executable, "-c", probe, self.address], capture_output=True, text=True,
                                 env=self.env, timeout=60)
            if out.returncode == 0 and out.stdout.strip().isdigit() and int(out.stdout.strip()) >= n:
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {n} nodes in {timeout} s; see {self.temp_dir}/node*.log")

    def process_groups(self) -> List[int]:
        return [node.pid for node in self.nodes]  # start_new_session: pgid == pid

    def processes(self) -> List[int]:
        """Live processes of this cluster: the nodes, their process groups, and all their descendants
        (Ray's workers may sit in process groups of their own)."""
        parent = {}
        for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                parent[pid] = int(stat.rsplit(")", 1)[1].split()[1])
                if os.getpgid(pid) in self.process_groups():
                    self._seen.add(pid)
            except (OSError, ValueError, IndexError):
                pass
        ours = set(self.process_groups()) | {p for p in self._seen if p in parent}
        grew = True
        while grew:
            more = {pid for pid, ppid in parent.items() if ppid in ours and pid not in ours}
            ours |= more
            grew = bool(more)
        ours = {p for p in ours if p in parent}
        self._seen |= ours
        return sorted(ours - {os.getpid()})

    def stop(self) -> List[int]:
        """Stop both nodes by their process groups (and any worker outside them, by PID); returns the
        PIDs of this cluster still alive."""
        self.processes()  # remember every worker while the tree is still intact
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            for pgid in self.process_groups():
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    pass
            if sig == signal.SIGKILL:
                for pid in self.leftovers():
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and (any(n.poll() is None for n in self.nodes) or self.leftovers()):
                time.sleep(0.2)
            if not self.leftovers() and all(n.poll() is not None for n in self.nodes):
                break
        left = self.leftovers()
        if not left:  # logs and sockets of a cluster that is gone
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        return left

    def leftovers(self) -> List[int]:
        """Live processes of this cluster: any seen before (same PID, not a zombie), in its process
        groups, descending from it, or naming its temp dir."""
        alive = set()
        for pid in self._seen | set(processes_naming(self.temp_dir)) | set(self.processes()):
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.add(pid)
        return sorted(alive - {os.getpid()})
