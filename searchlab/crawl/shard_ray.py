"""The Ray backend of a sharded crawl (the ``cluster`` extra): each shard is a Ray actor.

``--ray local`` starts a Ray instance on this machine; ``--ray auto`` joins the running
cluster (Ray's own convention: ``RAY_ADDRESS``, or the cluster started on this node with
``ray start``); ``--ray ray://HOST:PORT`` connects to a remote cluster through Ray Client,
and ``--ray HOST:PORT`` to a cluster's GCS from one of its nodes. A test that has already
called ``ray.init`` is used as it is. Ray is imported only here, and only when asked for.

Each shard is an async actor (``ShardActor``) running the ordinary engine on the actor's
event loop, spread over the cluster's nodes (``SPREAD``), one CPU each when the cluster has
enough. Ray restarts an actor whose worker dies (``max_restarts``) and retries its ``run``
call on the new one (``max_task_retries``); the new actor resumes from the shard's state, in
the shard folder, which is why that folder must be on a path every node can reach (see
docs/crawl-at-scale.md). Every node needs searchlab installed (or a Ray ``runtime_env``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import warnings
from typing import Any

from searchlab.crawl.coordinator import MAX_RESTARTS, ShardResult, run_shard
from searchlab.errors import InputError

CONNECT_SECONDS = 5.0


def _ray() -> Any:
    from searchlab._optional import require

    return require("ray", "cluster")


def connect(address: str) -> bool:
    """Connect this process to Ray (see the module docstring); True when it started Ray (and
    so should shut it down). InputError, one line, when the address cannot be reached."""
    ray = _ray()
    if ray.is_initialized():
        return False
    if address not in ("local", "auto"):
        _check_reachable(address)
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise InputError(
            f"cannot connect to Ray at {address!r}: {str(exc).splitlines()[0]}",
            hint="start one with 'ray start --head', or use --ray local",
        ) from None
    return address == "local"


def _check_reachable(address: str) -> None:
    """Ray waits a long time for an address nobody answers on: try a TCP connection first."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise InputError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc})",
            hint="check the address and that the head node is running ('ray status')",
        ) from None


class ShardActor:
    """One shard on a Ray worker (decorated with ``ray.remote`` by ``RayBackend``)."""

    def __init__(self, config: Any) -> None:
        from searchlab.crawl.engine import CrawlEngine

        ray = _ray()
        with warnings.catch_warnings():  # Ray's property uses a deprecated one of its own
            warnings.simplefilter("ignore", DeprecationWarning)
            reborn = ray.get_runtime_context().was_current_actor_reconstructed
        if reborn:
            config = dataclasses.replace(config, resume=True, restarted=True)
        self.engine = CrawlEngine(config)

    async def run(self) -> ShardResult:
        return await run_shard(self.engine)

    async def status(self) -> Any:
        return await self.engine.status()

    async def finish(self) -> None:
        self.engine.finish()

    async def stop(self, reason: str) -> None:
        self.engine.request_stop(reason)

    async def pid(self) -> int:
        return os.getpid()


class RayBackend:
    def __init__(self, address: str) -> None:
        self.started_ray = connect(address)
        self.cpus = float(_ray().cluster_resources().get("CPU", 1.0))

    @property
    def default_shards(self) -> int:
        return max(1, int(self.cpus))

    def shard(self, config: Any) -> RayShard:
        actor_class = (
            _ray()
            .remote(ShardActor)
            .options(
                num_cpus=min(1.0, self.cpus / config.shard.count),  # every shard fits
                max_restarts=MAX_RESTARTS,
                max_task_retries=MAX_RESTARTS,
                scheduling_strategy="SPREAD",
            )
        )
        return RayShard(actor_class.remote(config), config.shard.index)

    def close(self) -> None:
        if self.started_ray:
            _ray().shutdown()


class RayShard:
    """The coordinator's handle on one shard actor."""

    def __init__(self, actor: Any, index: int) -> None:
        self.actor = actor
        self.index = index
        self.restarts = 0  # counted by the coordinator from the incarnations it sees

    async def start(self) -> None:
        self._result = asyncio.ensure_future(self._run())

    async def _run(self) -> ShardResult:
        from ray.exceptions import RayError

        try:
            return await self.actor.run.remote()
        except RayError as exc:
            message = f"its Ray actor failed for good: {str(exc).splitlines()[0]}"
            return ShardResult(self.index, None, ("died", message, None))

    async def _call(self, method: str, *args: Any) -> Any:
        from ray.exceptions import RayError

        try:
            return await getattr(self.actor, method).remote(*args)
        except RayError:  # restarting, or gone (then _run reports it)
            return None

    async def status(self) -> Any:
        return await self._call("status")

    async def finish(self) -> None:
        await self._call("finish")

    async def stop(self, reason: str) -> None:
        await self._call("stop", reason)

    def done(self) -> bool:
        return self._result.done()

    async def result(self) -> ShardResult:
        return await self._result

    async def close(self) -> None:
        if not self._result.done():
            _ray().kill(self.actor, no_restart=True)  # only after an error in the coordinator
