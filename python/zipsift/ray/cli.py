"""`zipsift select METHOD --engine ray`: the selection pipeline of ``cli.common.run_select`` with the
scoring pass on a Ray cluster; the driver writes the output (atomically) as the local engine does."""
from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, List, Optional

from .select import select


def select_on_ray(args: argparse.Namespace, make_selector: Callable[[List[str]], Any], targets: List[str],
                  select_options: Optional[Dict[str, Any]], fit: Optional[Callable]):
    """(kept, source ReadStats, fit ReadStats or None, report entry) for ``run_select``."""
    if fit is not None and not hasattr(args, "fit_sample"):
        # Only DSIR's first pass (p_R as a sum of n-gram counts) is distributed; running another
        # method's pass (length baseline, Moore-Lewis reference) anywhere else would change its scores.
        from ..cli.common import UsageError

        raise UsageError("--engine ray runs DSIR's first pass only, not --length-fair's or --reference-sample's; "
                         "run those with --engine local (for gain, a --reference file works on Ray)")
    # One native thread per actor unless asked: Ray schedules actors on CPUs, not the core's pool.
    args.threads = args.threads or 1
    fit_sample = getattr(args, "fit_sample", None) if fit is not None else None
    result = select(args.source, lambda: make_selector(targets), k=args.k, budget_bytes=args.budget_bytes,
                    text_field=args.text_field, on_error=args.on_error, reserved_fields=(args.score_field,),
                    options=select_options, fit_sample=fit_sample, actors=args.ray_actors,
                    threads_per_actor=args.threads, batch_size=args.batch_size, address=args.ray_address)
    import ray

    info = {"address": args.ray_address, "nodes": len([n for n in ray.nodes() if n.get("Alive")]),
            "cluster_cpus": ray.cluster_resources().get("CPU", 0), "actors": result.actors,
            "threads_per_actor": args.threads, "seconds": result.seconds,
            "candidates_received": result.candidates_received}
    return result.kept, result.stats, result.fit_stats, info
