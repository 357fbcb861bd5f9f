"""Importing Ray lazily, and connecting to a cluster (or starting a local one) quietly."""
from __future__ import annotations

import logging
from typing import Optional

INSTALL_HINT = 'the Ray engine needs Ray Data: pip install "zipsift[ray]"'


def require_ray():
    """The ``ray`` module with Ray Data loaded; ImportError saying what to install when it is missing."""
    try:
        import ray
        import ray.data  # noqa: F401  (the extra is ray[data]; plain ray lacks pyarrow/pandas)
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from None
    return ray


def connect(address: Optional[str] = None, object_store_memory: Optional[int] = None):
    """Connect to the Ray cluster at ``address`` ("127.0.0.1:6379", "auto", "ray://..."), or start a
    local one when None and RAY_ADDRESS is unset; a no-op when this process is already connected.
    Ray Data's progress bars and its INFO/WARNING logs are turned off: zipsift reports its own."""
    ray = require_ray()
    if not ray.is_initialized():
        kwargs = {"address": address, "logging_level": logging.WARNING, "log_to_driver": False}
        if address is None:
            kwargs["include_dashboard"] = False
            if object_store_memory is not None:
                kwargs["object_store_memory"] = object_store_memory
        ray.init(**kwargs)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray
