"""The long-memory experiments: six cells, the same budget, the problems of :mod:`.problems`.

Every (problem, cell) pair trains a one-layer network ``cell(H) -> Linear`` from scratch with the same
budget: Adam, the same learning rate, batch size, number of steps, hidden size H and gradient clipping
(global norm 1). Every cell starts from its default (torch.nn's) initialisation; the IndRNN's recurrent
weights are bounded by ``2^(1/T)`` as in its paper (Li et al. 2018). The test error is measured on a fixed
test set every ``eval_every`` steps; the table reports the final one. Runs are independent, so they spread
over worker processes (one torch thread each).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.inspect.experiments.problems import Problem, make_problem
from rnnkit.layers.factory import RNNConfig, build_rnn

__all__ = ["BUDGETS", "CELLS", "Budget", "LongMemoryNet", "Result", "run_all", "train_one"]

CELLS = {
    "rnn": "vanilla RNN (tanh)",
    "lstm": "LSTM",
    "gru": "GRU",
    "lnlstm": "LayerNorm-LSTM",
    "indrnn": "IndRNN",
    "mingru": "minGRU",
}


@dataclass(frozen=True)
class Budget:
    """What every cell gets on a problem family, and which problems are run.

    Attributes:
        adding, copy: sequence lengths T (adding) and delays T (copy); ``digits``: run sequential digits.
        steps: training steps per problem family (``{"adding": n, "copy": n, "digits": n}``).
        batch_size, hidden_size, lr, clip: the same for every cell.
        eval_every: test error every this many steps (the learning curves).
        test_size: sequences in each synthetic test set.
    """

    adding: tuple[int, ...] = (50, 100, 200, 400)
    copy: tuple[int, ...] = (50, 100)
    digits: bool = True
    steps: dict[str, int] = field(default_factory=lambda: {"adding": 2000, "copy": 1500, "digits": 800})
    batch_size: int = 32
    hidden_size: int = 64
    lr: float = 1e-2
    clip: float = 1.0
    eval_every: int = 100
    test_size: int = 500


BUDGETS = {
    "full": Budget(),
    "quick": Budget(
        adding=(50, 100), copy=(50,), steps={"adding": 400, "copy": 400, "digits": 400}, eval_every=50
    ),
    "smoke": Budget(
        adding=(8,),
        copy=(4,),
        steps={"adding": 12, "copy": 12, "digits": 12},
        batch_size=16,
        hidden_size=8,
        eval_every=6,
        test_size=64,
    ),
}


def rnn_config(cell: str, hidden_size: int, steps: int) -> RNNConfig:
    """The recurrent layer of ``cell`` (a key of :data:`CELLS`) for sequences of ``steps`` steps."""
    if cell == "rnn":
        return RNNConfig(cell="rnn", hidden_size=hidden_size)
    if cell in ("lstm", "lnlstm"):
        return RNNConfig(cell="lstm", hidden_size=hidden_size, layer_norm=cell == "lnlstm")
    if cell == "indrnn":
        return RNNConfig(cell="indrnn", hidden_size=hidden_size, recurrent_max_abs=2 ** (1 / steps))
    if cell in ("gru", "mingru"):
        return RNNConfig(cell=cell, hidden_size=hidden_size)
    raise ValueError(f"unknown cell {cell!r} (known: {', '.join(CELLS)})")


class LongMemoryNet(nn.Module):
    """``x (B, T, I) -> cell -> Linear``: a prediction per step (``per_step``) or from the last step."""

    def __init__(self, config: RNNConfig, input_size: int, output_size: int, per_step: bool) -> None:
        super().__init__()
        self.rnn = build_rnn(config, input_size)
        self.head = nn.Linear(self.rnn.output_size, output_size)
        self.per_step = per_step

    def forward(self, x: Tensor) -> Tensor:
        output, _ = self.rnn(x)  # (B, T, H)
        return self.head(output if self.per_step else output[:, -1])


@dataclass
class Result:
    """One trained (problem, cell): its learning curve, final test error and cost."""

    problem: str
    label: str
    cell: str
    baseline: float
    steps: list[int]
    errors: list[float]
    seconds: float
    parameters: int

    @property
    def final(self) -> float:
        return self.errors[-1]


def evaluate(model: nn.Module, problem: Problem, chunk: int = 500) -> float:
    """The test error on the problem's fixed test set (in chunks, without gradients)."""
    x, y = problem.test
    model.eval()
    with torch.no_grad():
        prediction = torch.cat([model(problem.encode(x[k : k + chunk])) for k in range(0, len(x), chunk)])
    model.train()
    return problem.error(prediction, y)


def build_model(problem: Problem, cell: str, budget: Budget, seed: int = 0) -> LongMemoryNet:
    """The network of ``cell`` for ``problem``, initialised from ``seed``."""
    torch.manual_seed(seed)
    config = rnn_config(cell, budget.hidden_size, problem.steps)
    return LongMemoryNet(config, problem.input_size, problem.output_size, problem.per_step)


def train_one(problem: Problem, cell: str, budget: Budget, seed: int = 0) -> tuple[Result, LongMemoryNet]:
    """Train ``cell`` on ``problem`` within ``budget``; returns the result and the trained model."""
    model = build_model(problem, cell, budget, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    data = torch.Generator().manual_seed(seed + 1)
    total = budget.steps[problem.name]
    steps, errors = [0], [evaluate(model, problem)]
    started = time.perf_counter()
    for step in range(1, total + 1):
        x, y = problem.batch(budget.batch_size, data)
        loss = problem.loss(model(problem.encode(x)), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), budget.clip)
        optimizer.step()
        if step % budget.eval_every == 0 or step == total:
            error = evaluate(model, problem)
            steps.append(step)
            errors.append(error if math.isfinite(error) else float("nan"))
    seconds = time.perf_counter() - started
    parameters = sum(p.numel() for p in model.parameters())
    return Result(
        problem.name, problem.label, cell, problem.baseline, steps, errors, seconds, parameters
    ), model


def problems_of(budget: Budget, tasks: Sequence[str]) -> list[tuple[str, int | None]]:
    """The (name, length) of every problem the budget runs, limited to ``tasks``."""
    chosen = [("adding", t) for t in budget.adding] + [("copy", t) for t in budget.copy]
    chosen += [("digits", None)] if budget.digits else []
    return [p for p in chosen if p[0] in tasks]


def _job(args: tuple[str, int | None, str, Budget, int]) -> dict[str, Any]:
    name, length, cell, budget, seed = args
    torch.set_num_threads(1)
    problem = make_problem(name, length, budget.test_size)
    result, model = train_one(problem, cell, budget, seed)
    return {"result": asdict(result), "state": {k: v.clone() for k, v in model.state_dict().items()}}


def _cost(job: tuple[str, int | None, str, Budget, int]) -> float:
    """A rough relative cost, to start the longest runs first."""
    name, length, cell, budget, _ = job
    per_step = {"rnn": 1, "indrnn": 0.6, "lstm": 2.4, "gru": 3, "lnlstm": 6, "mingru": 7}.get(cell, 3)
    steps = (length or 64) + (20 if name == "copy" else 0)
    return per_step * steps * budget.steps[name]


def run_all(
    budget: Budget,
    cells: Sequence[str] = tuple(CELLS),
    tasks: Sequence[str] = ("adding", "copy", "digits"),
    workers: int = 1,
    seed: int = 0,
    progress: Callable[[Result, int, int], None] | None = None,
) -> tuple[list[Result], dict[tuple[str, str], dict[str, Tensor]]]:
    """Train every cell on every problem; returns the results (problem order, then cell order) and the
    trained weights by ``(problem label, cell)``.

    Raises:
        ImportError: the digits task without scikit-learn (before any training starts).
    """
    unknown = sorted(set(cells) - set(CELLS))
    if unknown:
        raise ValueError(f"unknown cells {unknown} (known: {', '.join(CELLS)})")
    chosen = problems_of(budget, tasks)
    if any(name == "digits" for name, _ in chosen):
        make_problem("digits")  # fails early and clearly without scikit-learn
    jobs = [(name, length, cell, budget, seed) for name, length in chosen for cell in cells]
    order = sorted(range(len(jobs)), key=lambda k: -_cost(jobs[k]))
    outputs: dict[int, dict[str, Any]] = {}
    if workers <= 1:
        for done, k in enumerate(order, 1):
            outputs[k] = _job(jobs[k])
            if progress:
                progress(Result(**outputs[k]["result"]), done, len(jobs))
    else:
        context = get_context("spawn")  # a clean interpreter per worker: no inherited torch threads
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(_job, jobs[k]): k for k in order}
            for done, future in enumerate(as_completed(futures), 1):
                outputs[futures[future]] = future.result()
                if progress:
                    progress(Result(**outputs[futures[future]]["result"]), done, len(jobs))
    results = [Result(**outputs[k]["result"]) for k in range(len(jobs))]
    states = {(r.label, r.cell): outputs[k]["state"] for k, r in enumerate(results)}
    return results, states


def default_workers() -> int:
    """Worker processes: one per CPU this process may run on, at most 2 (the budget's 2-core machine)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count() or 1
    return max(1, min(2, available))
