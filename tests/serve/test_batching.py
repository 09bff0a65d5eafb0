"""Micro-batching on a real server: concurrent requests share forward passes, each gets exactly what it
would get alone (padding invariance), batches respect --max-batch, one bad request fails alone."""

import asyncio
import itertools
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rnnkit.serve import MicroBatcher, ServeConfig
from rnnkit.serve.batching import length_buckets
from rnnkit.tasks.runner import load_run
from tests.serve.live import LiveServer

TEXTS = {
    "classification": ["hi", "what is your favorite food?", "오늘 기분이 좋아", "tell me a joke about computers please",
                       "ok", "안녕하세요 반갑습니다", "who are you", "do you like music and movies and books"],
    "tagging": ["the dog .", "a big old cat sees the man in the park .", "the man walks .", "a cat sees a dog ."],
    "translation": ["one", "one two three four", "five two", "three"],
    "language_model": ["the", "the cat sat", "on", "mat."],
}  # fmt: skip


@pytest.fixture(scope="module")
def batching(toy_runs):
    config = ServeConfig(max_batch=8, max_wait_ms=250, timeout_s=30)
    with LiveServer([toy_runs[task] for task in TEXTS] + [toy_runs["forecasting"]], config) as live:
        yield live


async def _concurrently(url: str, bodies: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(*(client.post(url, json=body) for body in bodies))


def metrics(live, name: str) -> dict:
    return httpx.get(live.url + "/v1/metrics").json()["models"][name]


@pytest.mark.parametrize("task", list(TEXTS))
def test_concurrent_requests_share_a_batch_and_get_their_own_answers(batching, toy_runs, task):
    before = metrics(batching, task)
    url = f"{batching.url}/v1/models/{task}/predict"
    answers = asyncio.run(_concurrently(url, [{"inputs": [text]} for text in TEXTS[task]]))
    assert [a.status_code for a in answers] == [200] * len(TEXTS[task])
    after = metrics(batching, task)
    batches = after["batches"] - before["batches"]
    assert after["requests"] - before["requests"] == len(TEXTS[task])
    assert batches < len(TEXTS[task])  # merged: fewer forward passes than requests
    run_task, model = load_run(toy_runs[task])
    for text, answer in zip(TEXTS[task], answers):  # one at a time, no other input to pad against
        alone = run_task.predict(model, [text])[0]
        got = answer.json()["outputs"][0]
        assert got == alone, (text, got, alone)
        for key, value in alone.items():
            if isinstance(value, float):
                assert abs(got[key] - value) <= 1e-6


def test_batches_hold_at_most_max_batch_inputs_and_a_bigger_request_runs_alone(batching):
    before = metrics(batching, "classification")
    url = f"{batching.url}/v1/models/classification/predict"
    bodies = [{"inputs": [f"hello {k}"]} for k in range(20)] + [{"inputs": [f"big {k}" for k in range(10)]}]
    answers = asyncio.run(_concurrently(url, bodies))
    assert all(a.status_code == 200 for a in answers)
    assert len(answers[-1].json()["outputs"]) == 10
    after = metrics(batching, "classification")
    sizes = {int(k): v - before["batch_sizes"].get(k, 0) for k, v in after["batch_sizes"].items()}
    assert after["largest_batch"] == 10 and sizes[10] == 1  # never split, never merged
    assert max(size for size, count in sizes.items() if count and size != 10) <= 8
    assert sum(size * count for size, count in sizes.items()) == 30
    assert after["batches"] - before["batches"] >= 4  # 20 single inputs need 3 batches of at most 8


def test_one_bad_request_in_a_merged_batch_fails_alone(batching):
    url = f"{batching.url}/v1/models/forecasting/predict"
    good = ",".join(str(20 + (t % 12)) for t in range(30))
    bodies = [{"inputs": [good]}, {"inputs": ["1,2,x"]}, {"inputs": [good, good]}]
    answers = asyncio.run(_concurrently(url, bodies))
    assert [a.status_code for a in answers] == [200, 422, 200]
    assert answers[1].json()["error"]["field"] == "inputs[0]"
    assert answers[0].json()["outputs"][0] == answers[2].json()["outputs"][1]


def _padded_cost(sizes: list[int], lengths: list[int], ends: list[int], overhead: int) -> int:
    return sum(overhead + sum(sizes[b:e]) * lengths[e - 1] for b, e in zip([0, *ends], ends))


def test_length_buckets_are_the_cheapest_cuts_of_every_small_batch():
    rng = random.Random(0)
    for _ in range(300):
        n = rng.randint(1, 7)
        sizes = [rng.randint(1, 4) for _ in range(n)]
        lengths = sorted(rng.choice([1, 2, 5, 20, 60, 200, 900]) for _ in range(n))
        overhead = rng.choice([0, 16, 256, 10_000])
        ends = length_buckets(sizes, lengths, overhead)
        assert ends[-1] == n and ends == sorted(set(ends))  # every request in exactly one bucket
        every = [[*cut, n] for r in range(n) for cut in itertools.combinations(range(1, n), r)]
        best = min(_padded_cost(sizes, lengths, cut, overhead) for cut in every)
        assert _padded_cost(sizes, lengths, ends, overhead) == best


def test_a_batch_of_short_and_long_inputs_runs_in_buckets_and_answers_as_alone(toy_runs):
    # 250 ms of waiting gathers all six in one batch; padding "hi" to 1500 characters would cost more
    # than a second forward pass, so the long inputs get their own
    config = ServeConfig(max_batch=8, max_wait_ms=250, timeout_s=30)
    long = " ".join(["what is your favorite food and why"] * 43)[:1500]
    texts = ["hi", "ok", "hello there", long, long[:1400], "good morning"]
    with LiveServer([toy_runs["classification"]], config) as live:
        url = live.url + "/v1/models/classification/predict"
        answers = asyncio.run(_concurrently(url, [{"inputs": [text]} for text in texts]))
        after = metrics(live, "classification")
    assert [a.status_code for a in answers] == [200] * len(texts)
    assert after["batches"] == 1 and after["forward_passes"] == 2
    run_task, model = load_run(toy_runs["classification"])
    for text, answer in zip(texts, answers):
        alone = run_task.predict(model, [text])[0]
        got = answer.json()["outputs"][0]
        assert got["label"] == alone["label"] and abs(got["probability"] - alone["probability"]) <= 1e-6


def test_a_request_whose_caller_gave_up_is_skipped_and_those_behind_it_are_answered():
    # the batcher alone, with a forward that holds the model until the test lets it go: b (2 inputs)
    # fills a batch that waits for the model; d, c, e queue behind it, c's caller gives up; then the
    # next batch is d and e (c skipped), every input is accounted for
    gate = threading.Event()

    def forward(inputs: list[str]) -> list[str]:
        gate.wait(10)
        return [text.upper() for text in inputs]

    async def scenario() -> list:
        with ThreadPoolExecutor(1) as pool:
            batcher = MicroBatcher(forward, pool, max_batch=2, max_wait_ms=0, max_queue=100)
            batcher.start()
            a = asyncio.ensure_future(batcher.submit(["a"]))
            await asyncio.sleep(0.05)  # a runs alone and holds the model
            b = asyncio.ensure_future(batcher.submit(["b1", "b2"]))
            d = asyncio.ensure_future(batcher.submit(["d"]))
            c = asyncio.ensure_future(asyncio.wait_for(batcher.submit(["c"]), 0.05))
            await asyncio.sleep(0.01)  # c's submit (a task of wait_for's own) is queued before e
            e = asyncio.ensure_future(batcher.submit(["e"]))
            await asyncio.sleep(0.01)
            assert [job.inputs for job in batcher._jobs] == [["d"], ["c"], ["e"]]
            await asyncio.sleep(0.3)  # c's caller has given up
            gate.set()
            answers = await asyncio.wait_for(asyncio.gather(a, b, c, d, e, return_exceptions=True), 10)
            stats, pending = batcher.stats.as_dict(batcher.pending), batcher.pending
            await batcher.stop()
            return [answers, stats, pending]

    (a, b, c, d, e), stats, pending = asyncio.run(scenario())
    assert (a, b, d, e) == (["A"], ["B1", "B2"], ["D"], ["E"]) and isinstance(c, asyncio.TimeoutError)
    assert pending == 0 and stats["requests"] == 4 and stats["batch_sizes"] == {"1": 1, "2": 2}
