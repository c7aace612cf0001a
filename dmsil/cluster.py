"""Independent jobs (clips to prepare, files to score) spread over a Ray cluster.

``--ray`` alone starts a Ray cluster of this machine's cores for the command and stops it after;
``--ray ADDRESS`` (``auto``, ``HOST:6379``, ``ray://HOST:10001``) joins a running one. The workers must
see the same files at the same paths (a shared file system) and have this package installed. Results
are written by the workers where the local path writes them, so a run is resumable the same way.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Iterator

LOCAL = "local"


def add_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL,
        metavar="ADDRESS",
        help="spread the work over a Ray cluster: ADDRESS of a running one (auto, HOST:6379, ray://HOST:10001), "
        "or none to start one of this machine's cores",
    )


def connect(address: str) -> int:
    """Join (or start) the cluster; returns how many CPUs it offers."""
    import ray

    if not ray.is_initialized():
        # Ray gives a 1-CPU worker OMP_NUM_THREADS=1, and CTranslate2's decoding depends on the OpenMP thread
        # count (a sentence came back as two, one thread against two): workers keep this process's count,
        # so --ray transcribes what the local path transcribes
        threads = os.environ.get("OMP_NUM_THREADS") or str(len(os.sched_getaffinity(0)))
        ray.init(None if address == LOCAL else address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"env_vars": {"OMP_NUM_THREADS": threads}})  # fmt: skip
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def as_completed(refs: Iterable) -> Iterator:
    """The results of Ray object refs, each as soon as it is ready."""
    import ray

    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def shutdown() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
