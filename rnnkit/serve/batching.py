"""Micro-batching: concurrent requests to one model share a forward pass.

A batch is handed to the model when it holds ``max_batch`` inputs, or when the model is free and the batch's
first request has waited ``max_wait_ms`` for company; while the model runs one batch, the event loop keeps
gathering the next (its wait counts from its first request's arrival, so a batch gathered during a pass longer
than ``max_wait_ms`` goes as soon as the model is free). A request is never split: a larger one runs alone.
The batch is sorted by input length and cut into length buckets (:func:`length_buckets`: a short input is not
padded to a long one's length when a separate pass is cheaper); the buckets go to the task's ``predict`` one
after the other in one job on the model's thread, and each request gets its own outputs back. The models mask
padding (lengths), so an output does not depend on the other requests of its batch (the tests check it against
one-at-a-time calls). If a merged call fails, each of its requests runs alone, so that one bad input fails
only its own request.

The queue is bounded: past ``max_queue`` inputs waiting or running, :meth:`MicroBatcher.submit` raises
:class:`QueueFull` (the server answers 429 with Retry-After).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BUCKET_OVERHEAD", "BatchStats", "MicroBatcher", "QueueFull", "length_buckets"]

Forward = Callable[..., list[Any]]  # (inputs) or (inputs, options) -> one output per input

# the cost of one more forward call, in padded characters (input slots x length): on the chatterbot
# classifier (conv + BiLSTM, 1 torch thread) a call costs about 1.4 ms and a padded character 8 us, some 175
# characters; 256 leans towards fewer calls, whose Python overhead holds the GIL the event loop needs
BUCKET_OVERHEAD = 256


def length_buckets(sizes: list[int], lengths: list[int], overhead: int = BUCKET_OVERHEAD) -> list[int]:
    """Where to cut a batch of requests sorted by length into forward passes, as the ends of the buckets.

    Request ``k`` has ``sizes[k]`` inputs, the longest ``lengths[k]`` characters long (non-decreasing in
    ``k``); a bucket pads every input to its last request's length. The cuts minimise the padded characters
    of all buckets plus ``overhead`` per bucket (dynamic programming, O(n^2) for n requests).

    Example:
        >>> length_buckets([1, 1, 1, 1], [2, 3, 3, 200])  # 3 * 3 + 200 + 2 * 256 < 4 * 200 + 256
        [3, 4]
        >>> length_buckets([1, 1, 1, 1], [2, 3, 3, 40])  # 4 * 40 + 256 < 3 * 3 + 40 + 2 * 256
        [4]
    """
    n = len(sizes)
    best, cut = [0] + [float("inf")] * n, [0] * (n + 1)
    inputs = [0]
    for size in sizes:
        inputs.append(inputs[-1] + size)
    for end in range(1, n + 1):
        for begin in range(end):
            cost = best[begin] + overhead + (inputs[end] - inputs[begin]) * lengths[end - 1]
            if cost < best[end]:
                best[end], cut[end] = cost, begin
    ends, end = [], n
    while end > 0:
        ends.append(end)
        end = cut[end]
    return ends[::-1]


class QueueFull(Exception):
    """The model already has ``max_queue`` inputs waiting or running."""


@dataclass
class BatchStats:
    """What a batcher did: requests and inputs served, batches, the forward passes they were cut into
    (length buckets), batch sizes (inputs -> count)."""

    requests: int = 0
    inputs: int = 0
    batches: int = 0
    passes: int = 0
    largest: int = 0
    rejected: int = 0
    sizes: Counter = field(default_factory=Counter)

    def as_dict(self, queued: int) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "inputs": self.inputs,
            "batches": self.batches,
            "forward_passes": self.passes,
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
    arrived: float = 0.0  # the loop's clock when it was submitted
    key: str = field(init=False)  # jobs batch together only with jobs of the same options
    length: int = field(init=False)  # its longest input, in characters

    def __post_init__(self) -> None:
        self.key = json.dumps(self.options, sort_keys=True) if self.options else ""
        self.length = max((len(text) for text in self.inputs), default=0)


class MicroBatcher:
    """Gather while the model works, sort by length, cut into buckets, forward, scatter.

    Args:
        forward: ``inputs -> outputs`` (one per input), run on ``executor`` (the model's thread).
        executor: where ``forward`` runs.
        max_batch: inputs per batch (1: every request alone).
        max_wait_ms: how long a batch's first request waits for company when the model is free.
        max_queue: inputs waiting or running before :class:`QueueFull`.
        bucket_overhead: the cost of one more forward pass in padded characters (:func:`length_buckets`);
            0 would give every length its own pass, a large number one pass per batch.
    """

    def __init__(
        self,
        forward: Forward,
        executor: Executor,
        max_batch: int,
        max_wait_ms: float,
        max_queue: int,
        bucket_overhead: int = BUCKET_OVERHEAD,
    ) -> None:
        self.forward, self.executor = forward, executor
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000, max_queue
        self.bucket_overhead = bucket_overhead
        self.stats = BatchStats()
        self.pending = 0  # inputs accepted and not yet answered
        self._jobs: deque[_Job] = deque()
        self._wake: asyncio.Event | None = None  # set when a job arrives or the model becomes free
        self._busy = False  # the model is running a batch
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._wake = asyncio.Event()
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the worker; requests still queued get a cancelled answer."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        while self._jobs:
            job = self._jobs.popleft()
            self.pending -= len(job.inputs)
            job.future.cancel()

    async def submit(self, inputs: list[str], options: dict[str, Any] | None = None) -> list[Any]:
        """The outputs of ``inputs``, computed in some batch of requests with the same ``options``.

        Raises:
            QueueFull: too many inputs are waiting already.
            Exception: whatever ``forward`` raised for these inputs run alone.
        """
        if self._wake is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        if self.pending + len(inputs) > self.max_queue:
            self.stats.rejected += 1
            raise QueueFull(f"{self.pending} inputs are waiting (at most {self.max_queue})")
        self.pending += len(inputs)
        loop = asyncio.get_running_loop()
        job = _Job(list(inputs), loop.create_future(), dict(options or {}), loop.time())
        self._jobs.append(job)
        self._wake.set()
        return await job.future  # a caller's timeout cancels the future: the worker then skips the job

    # ----- the worker, on the event loop --------------------------------------------------------------
    async def _sleep(self, timeout: float | None) -> None:
        """Until a job arrives or the model becomes free (or ``timeout`` seconds, when given)."""
        self._wake.clear()
        handle = None if timeout is None else asyncio.get_running_loop().call_later(timeout, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            if handle is not None:
                handle.cancel()

    def _next(self) -> _Job | None:
        """The first queued job whose caller still waits (forgetting those that gave up), left queued, or
        None."""
        while self._jobs and self._jobs[0].future.done():
            self.pending -= len(self._jobs.popleft().inputs)
        return self._jobs[0] if self._jobs else None

    async def _gather(self) -> list[_Job]:
        """The next batch: full, or the model free and its first request's wait over."""
        loop = asyncio.get_running_loop()
        while self._next() is None:
            await self._sleep(None)
        first = self._jobs.popleft()
        jobs, size, deadline = [first], len(first.inputs), first.arrived + self.max_wait
        while size < self.max_batch:
            if (job := self._next()) is not None:
                if size + len(job.inputs) > self.max_batch or job.key != first.key:
                    break  # it starts the next batch (other options: another forward)
                jobs.append(self._jobs.popleft())
                size += len(job.inputs)
                continue
            left = deadline - loop.time()
            if not self._busy and left <= 0:
                break
            await self._sleep(None if self._busy else left)
        while self._busy:  # the batch is ready; the model is not
            await self._sleep(None)
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = []
            for job in await self._gather():
                if job.future.done():  # its caller gave up while the batch waited for the model
                    self.pending -= len(job.inputs)
                else:
                    jobs.append(job)
            if not jobs:
                continue
            jobs.sort(key=lambda job: job.length)  # like lengths pad together
            sizes, lengths = [len(job.inputs) for job in jobs], [job.length for job in jobs]
            ends = length_buckets(sizes, lengths, self.bucket_overhead)
            buckets = [jobs[begin:end] for begin, end in zip([0, *ends], ends)]
            inputs = sum(len(job.inputs) for job in jobs)
            self.stats.batches += 1
            self.stats.passes += len(buckets)
            self.stats.sizes[inputs] += 1
            self.stats.largest = max(self.stats.largest, inputs)
            self._busy = True
            try:
                work = loop.run_in_executor(self.executor, self._forward_buckets, buckets)
            except Exception as error:  # the executor itself is shut down: fail the batch
                self._finish(jobs, [error] * len(jobs))
                continue
            work.add_done_callback(lambda done, jobs=jobs: self._done(jobs, done))

    def _done(self, jobs: list[_Job], done: asyncio.Future) -> None:
        if done.cancelled():
            self._finish(jobs, [asyncio.CancelledError()] * len(jobs))
        elif done.exception() is not None:
            self._finish(jobs, [done.exception()] * len(jobs))
        else:
            self._finish(jobs, done.result())

    def _finish(self, jobs: list[_Job], answers: list[list[Any] | BaseException]) -> None:
        """Each job its answer; the model is free again."""
        self._busy = False
        self._wake.set()
        for job, answer in zip(jobs, answers):
            self.pending -= len(job.inputs)
            if job.future.done():
                continue
            if isinstance(answer, asyncio.CancelledError):
                job.future.cancel()
            elif isinstance(answer, BaseException):
                job.future.set_exception(answer)
            else:
                self.stats.requests += 1
                self.stats.inputs += len(job.inputs)
                job.future.set_result(answer)

    # ----- on the model's thread ----------------------------------------------------------------------
    def _forward_buckets(self, buckets: list[list[_Job]]) -> list[list[Any] | BaseException]:
        """Each bucket in one call; the answers of every job, in order."""
        return [answer for bucket in buckets for answer in self._forward_jobs(bucket)]

    def _forward_jobs(self, jobs: list[_Job]) -> list[list[Any] | BaseException]:
        """All jobs in one call, or, if that fails, each alone."""
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
