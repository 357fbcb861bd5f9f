"""Importing Ray lazily, and connecting to a cluster (or starting a local one) quickly and quietly."""
from __future__ import annotations

import logging
import os
import socket
from typing import Optional, Tuple

INSTALL_HINT = 'the Ray engine needs Ray: pip install "zipsift[ray]"'
# How long a cluster's address may take to accept a TCP connection before it counts as unreachable.
CONNECT_SECONDS = 5.0


class ClusterUnreachable(ConnectionError):
    """No Ray cluster answers at the address given; the message is one line saying what to do."""


def require_ray():
    """The ``ray`` module; ImportError saying what to install when it is missing."""
    try:
        import ray
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from None
    return ray


def _host_port(address: str) -> Optional[Tuple[str, int]]:
    """(host, port) of "host:port" or "ray://host:port", else None (auto, local, ...)."""
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def check_reachable(address: str, seconds: float = CONNECT_SECONDS) -> None:
    """Raise ClusterUnreachable unless something accepts TCP connections at ``address`` within
    ``seconds`` (Ray itself would wait minutes on a closed port). "auto" and names without a port
    are left to Ray."""
    where = _host_port(address)
    if where is None:
        return
    try:
        socket.create_connection(where, timeout=seconds).close()
    except OSError as err:
        why = "timed out" if isinstance(err, socket.timeout) else (err.strerror or str(err))
        raise ClusterUnreachable(f"no Ray cluster at {address} ({why}); start one there with `ray start --head`, "
                                 f"or give the address of a running cluster (--ray-address)") from None


def connect(address: Optional[str] = None, object_store_memory: Optional[int] = None):
    """Connect to the Ray cluster at ``address`` ("127.0.0.1:6379", "auto", "ray://..."), or start a
    local one when None and RAY_ADDRESS is unset; a no-op when this process is already connected.
    An address where no cluster answers raises ClusterUnreachable within seconds. Ray's own logs
    stay in its log files: zipsift reports its own progress (RAY_LOG_TO_STDERR / Ray's logging
    settings show them again)."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        check_reachable(address)
    kwargs = {"address": address, "logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        kwargs["include_dashboard"] = False
        if object_store_memory is not None:
            kwargs["object_store_memory"] = object_store_memory
    # RAY_BACKEND_LOG_LEVEL is left alone: setting it makes the core worker print a line saying so
    # on every start, and with the actors built without constructor arguments (the selector comes
    # by reference with the first split) the core worker has no warning to print to the terminal.
    try:
        ray.init(**kwargs)
    except ConnectionError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ClusterUnreachable(f"no Ray cluster at {address}: {first}") from None
    return ray
