"""Micro-batching: concurrent requests to one model share a forward pass.

The first request of a batch waits up to ``max_wait_ms`` for others; requests join while the batch holds
at most ``max_batch`` inputs (a request is never split: a larger one runs alone). The batch is sorted by
input length, so that the task's padded chunks hold inputs of like length, and goes to the task's
``predict`` in one call on the model's thread; each request gets its own outputs back. The models mask
padding (lengths), so an output does not depend on the other requests of its batch (the tests check it
against one-at-a-time calls). If the merged call fails, each request runs alone, so that one bad input
fails only its own request.

The queue is bounded: past ``max_queue`` inputs waiting or running, :meth:`MicroBatcher.submit` raises
:class:`QueueFull` (the server answers 429 with Retry-After).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchStats", "MicroBatcher", "QueueFull"]

Forward = Callable[..., list[Any]]  # (inputs) or (inputs, options) -> one output per input


class QueueFull(Exception):
    """The model already has ``max_queue`` inputs waiting or running."""


@dataclass
class BatchStats:
    """What a batcher did: requests and inputs served, forward passes, batch sizes (inputs -> count)."""

    requests: int = 0
    inputs: int = 0
    batches: int = 0
    largest: int = 0
    rejected: int = 0
    sizes: Counter = field(default_factory=Counter)

    def as_dict(self, queued: int) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "inputs": self.inputs,
            "batches": self.batches,
            "largest_batch": self.largest,
            "rejected": self.rejected,
            "queued": queued,
            "batch_sizes": {str(k): v for k, v in sorted(self.sizes.items())},
        }


@dataclass
class _Job:
    inputs: list[str]
    future: asyncio.Future
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Jobs batch together only with jobs of the same options."""
        return json.dumps(self.options, sort_keys=True)


class MicroBatcher:
    """Gather, sort by length, one forward, scatter.

    Args:
        forward: ``inputs -> outputs`` (one per input), run on ``executor`` (the model's thread).
        executor: where ``forward`` runs.
        max_batch: inputs per forward pass (1: every request alone).
        max_wait_ms: how long a batch's first request waits for company.
        max_queue: inputs waiting or running before :class:`QueueFull`.
    """

    def __init__(
        self, forward: Forward, executor: Executor, max_batch: int, max_wait_ms: float, max_queue: int
    ) -> None:
        self.forward, self.executor = forward, executor
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000, max_queue
        self.stats = BatchStats()
        self.pending = 0  # inputs accepted and not yet answered
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task | None = None
        self._carry: _Job | None = None

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the worker (requests still queued get a cancelled answer)."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    async def submit(self, inputs: list[str], options: dict[str, Any] | None = None) -> list[Any]:
        """The outputs of ``inputs``, computed in some batch of requests with the same ``options``.

        Raises:
            QueueFull: too many inputs are waiting already.
            Exception: whatever ``forward`` raised for these inputs run alone.
        """
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        if self.pending + len(inputs) > self.max_queue:
            self.stats.rejected += 1
            raise QueueFull(f"{self.pending} inputs are waiting (at most {self.max_queue})")
        self.pending += len(inputs)
        job = _Job(list(inputs), asyncio.get_running_loop().create_future(), dict(options or {}))
        self._queue.put_nowait(job)
        return await job.future  # a caller's timeout cancels the future: the worker then skips the job

    async def _next(self, timeout: float | None) -> _Job | None:
        if self._carry is not None:
            job, self._carry = self._carry, None
            return job
        if timeout is None:
            return await self._queue.get()
        if not self._queue.empty():
            return self._queue.get_nowait()
        if timeout <= 0:
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    def _drop(self, job: _Job) -> bool:
        """Forget a job whose caller gave up (timed out or went away)."""
        if job.future.done():
            self.pending -= len(job.inputs)
            return True
        return False

    async def _gather(self) -> list[_Job]:
        loop = asyncio.get_running_loop()
        first = await self._next(None)
        while self._drop(first):
            first = await self._next(None)
        jobs, size = [first], len(first.inputs)
        deadline = loop.time() + self.max_wait
        while size < self.max_batch:
            job = await self._next(deadline - loop.time())
            if job is None:
                break
            if self._drop(job):
                continue
            if size + len(job.inputs) > self.max_batch or job.key != first.key:
                self._carry = job  # it starts the next batch (other options: another forward)
                break
            jobs.append(job)
            size += len(job.inputs)
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            jobs.sort(key=lambda job: max(len(text) for text in job.inputs))  # like lengths pad together
            inputs = [text for job in jobs for text in job.inputs]
            self.stats.batches += 1
            self.stats.sizes[len(inputs)] += 1
            self.stats.largest = max(self.stats.largest, len(inputs))
            try:
                answers = await loop.run_in_executor(self.executor, self._forward_jobs, jobs)
            except Exception as error:  # the executor itself failed (shut down): fail the batch
                answers = [error] * len(jobs)
            for job, answer in zip(jobs, answers):
                self.pending -= len(job.inputs)
                if job.future.done():
                    continue
                if isinstance(answer, BaseException):
                    job.future.set_exception(answer)
                else:
                    self.stats.requests += 1
                    self.stats.inputs += len(job.inputs)
                    job.future.set_result(answer)

    def _forward_jobs(self, jobs: list[_Job]) -> list[list[Any] | BaseException]:
        """On the model's thread: all jobs in one call, or, if that fails, each alone."""
        inputs = [text for job in jobs for text in job.inputs]
        try:
            outputs = self._call(inputs, jobs[0].options)
            if len(outputs) != len(inputs):
                raise RuntimeError(f"predict returned {len(outputs)} outputs for {len(inputs)} inputs")
        except Exception as error:
            if len(jobs) == 1:
                return [error]
            return [self._alone(job) for job in jobs]
        answers, start = [], 0
        for job in jobs:
            answers.append(outputs[start : start + len(job.inputs)])
            start += len(job.inputs)
        return answers

    def _alone(self, job: _Job) -> list[Any] | BaseException:
        try:
            return self._call(job.inputs, job.options)
        except Exception as error:
            return error

    def _call(self, inputs: list[str], options: dict[str, Any]) -> list[Any]:
        return self.forward(inputs, options) if options else self.forward(inputs)
