"""Where the work chunks of ``data prepare`` run: dask threads or a dask.distributed cluster.

``--scheduler`` takes ``local:N`` (a LocalCluster of N single-threaded worker processes on
this machine), a scheduler file (``.json``, written by ``dask scheduler --scheduler-file``,
dask-jobqueue or dask-mpi) or a scheduler address (``tcp://host:8786``). No scheduler of our
own: chunks are plain dask tasks, each idempotent and flagged done once written, so a lost
worker only costs a re-run of the same command.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glonet_regions.core.errors import ValidationError


def execute_chunks(
    run_chunk: Callable[..., int], path: Path, source: Any, pending: list[int], *,
    workers: int | None, scheduler: Any, hook: Callable[[int], None] | None,
) -> None:  # fmt: skip
    """Run ``run_chunk(str(path), source, k, hook)`` for every pending work chunk: on dask
    threads (``scheduler`` None, ``workers`` threads) or on a dask.distributed cluster."""
    import dask

    tasks = [dask.delayed(run_chunk, pure=False)(str(path), source, k, hook) for k in pending]
    if not tasks:
        return
    if scheduler is None:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
        try:
            dask.compute(*tasks, scheduler="threads", pool=pool)
        finally:
            # dask raises at the first failed chunk while others may still be writing: wait
            # for them (and drop the queued ones) so a caller that removes the store after a
            # failure does not see it written again behind its back.
            pool.shutdown(wait=True, cancel_futures=True)
        return
    from distributed import Client, wait

    own = not isinstance(scheduler, Client)
    client, cluster = connect(scheduler) if own else (scheduler, None)
    try:
        futures = client.compute(tasks)
        wait(futures)  # every chunk finished (or failed) before any error is raised
        client.gather(futures)
    finally:
        if own:
            client.close()
        if cluster is not None:
            cluster.close()


def connect(scheduler: str) -> tuple[Any, Any]:
    """A dask.distributed ``Client`` for ``--scheduler`` (and the LocalCluster it started).

    ``local:N`` starts a LocalCluster of N single-threaded worker processes; a path to a
    ``.json`` file is a scheduler file (as ``dask-scheduler --scheduler-file``, dask-jobqueue
    or dask-mpi write it); anything else is a scheduler address (``tcp://host:8786``).
    """
    from distributed import Client, LocalCluster

    text = str(scheduler)
    if text.startswith("local:"):
        try:
            n = int(text.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise ValidationError(f"--scheduler {text!r}: expected local:N with N >= 1 workers")
        # ":0": the scheduler's HTTP server on a free port, so two runs on one node can coexist
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        return Client(cluster), cluster
    if text.endswith(".json"):
        if not Path(text).is_file():
            raise ValidationError(f"--scheduler {text}: scheduler file not found")
        return Client(scheduler_file=text), None
    try:
        return Client(text, timeout="30s"), None
    except OSError as exc:
        raise ValidationError(f"--scheduler {text}: cannot reach the scheduler ({exc})") from None
