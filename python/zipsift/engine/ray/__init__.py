"""zipsift on Ray: the engine for more than one machine, with the single-machine results.

>>> import ray, zipsift.engine.ray as zr                                  # doctest: +SKIP
>>> from zipsift import ZipFit
>>> sel = zr.select("pool/*.jsonl", lambda: ZipFit(targets, threads=1), k=1000)   # doctest: +SKIP

Needs ``pip install "zipsift[ray]"``; Ray is imported only when a function runs.
"""
from .connect import INSTALL_HINT, ClusterUnreachable, connect, require_ray
from .greedi import GreeDiSelection, facility_location_objective, greedi_facility_location
from .ranking import ranked_prefix
from .select import RaySelection, select, unwrap_ray_error

__all__ = ["select", "greedi_facility_location", "GreeDiSelection", "facility_location_objective", "RaySelection",
           "connect", "require_ray", "ranked_prefix", "unwrap_ray_error", "INSTALL_HINT", "ClusterUnreachable"]
