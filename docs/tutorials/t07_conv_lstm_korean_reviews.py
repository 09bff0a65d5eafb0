"""Tutorial 7: an Embedding -> Conv1D -> MaxPool1D -> BiLSTM classifier of Korean movie reviews, from
training to a served model.

Run: ``python docs/tutorials/t07_conv_lstm_korean_reviews.py [--small] [--out FOLDER]``. With the NSMC
sample (``$RNNKIT_SHARED_DATA/nsmc``, or ``../shared/data/nsmc`` beside the repository) it trains on
movie reviews (small: 2,000 with syllable tokens, full: 10,000 with morphemes); without it, on the Korean half
of the chatterbot corpus installed with rnnkit (topics as labels), and says so. It then predicts new
sentences, compares the test accuracy with the majority class and TF-IDF + logistic regression, draws the
saliency and the gates of one review, and serves the run with ``rnnkit serve`` for one request.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import torch
import yaml
from tutorial_args import Report, parse, shared_data, work_folder

import rnnkit
from rnnkit.inspect import record, saliency
from rnnkit.inspect.examples import group_labels
from rnnkit.inspect.plot_gates import plot_gates
from rnnkit.inspect.plot_text import plot_saliency_text

REVIEW = "배우들 연기는 좋았지만 스토리가 너무 지루하고 뻔했다"
NEW_SENTENCES = ["정말 감동적인 영화였어요 또 보고 싶다", "시간 아까운 최악의 영화", REVIEW]
SERVED_SENTENCE = "연출도 음악도 훌륭하고 배우들 연기가 최고였다"
READY_TIMEOUT_S = 60
NSMC_LABELS = {"0": "negative", "1": "positive"}  # the chatterbot fallback's labels are its topics


def head(source: Path, target: Path, rows: int) -> str:
    """The header and the first ``rows`` rows of a table, written to ``target``."""
    lines = source.read_text(encoding="utf-8").splitlines()
    target.write_text("\n".join(lines[: rows + 1]) + "\n", encoding="utf-8")
    return str(target)


def data_section(work: Path, small: bool, report: Report) -> dict:
    """NSMC from the shared data when it is there, else the installed Korean chatterbot corpus."""
    folder = shared_data("nsmc", "ratings_train_40k_sample.txt")
    if folder is None:
        report("data", "chatterbot corpus (Korean), the NSMC sample (shared data nsmc/) not found")
        return {"dataset": "chatterbot", "languages": ["korean"], "tokenizer": "char", "max_length": 60}
    report("data", f"NSMC from {folder}")
    train, test = (2000, 500) if small else (10000, 2000)
    return {
        "train": head(folder / "ratings_train_40k_sample.txt", work / "t07_train.tsv", train),
        "test": head(folder / "ratings_test_10k_sample.txt", work / "t07_test.tsv", test),
        "format": "tsv",
        "text_column": "document",
        "label_column": "label",
        "tokenizer": "char" if small else "morpheme",  # syllables need no analyser and few examples
        "max_length": 80 if small else 60,
    }


def config(data: dict, small: bool) -> dict:
    """The run config: the ``conv_lstm`` preset with a small front-end and a bidirectional LSTM."""
    return {
        "task": "classification",
        "name": "nsmc_conv_lstm",
        "recipe": "none",
        "data": {**data, "tfidf_baseline": True},
        "model": {
            "preset": "conv_lstm",
            "embedding_dim": 64,
            "conv": {"channels": 64, "kernel_sizes": [3, 5], "pool_size": 2},
            "rnn": {"cell": "lstm", "hidden_size": 32 if small else 64, "bidirectional": True},
            "pooling": "max",
            "dropout": 0.3,
        },
        "train": {"epochs": 5, "batch_size": 32, "lr": 0.003, "device": "cpu", "seed": 0},
    }


def sequence_lengths(task, model, text: str, report: Report) -> None:
    """How many steps the review has after the embedding, the convolutions and the max-pool."""
    ids = torch.tensor([task.encode(text)])
    with torch.no_grad():
        embedded = model.embedding(ids)  # (1, T, E)
        convolved = [conv(embedded.transpose(1, 2)) for conv in model.conv.convs]  # "valid": (1, C, T-k+1)
        pooled, lengths = model.conv(embedded, torch.tensor([ids.shape[1]]))  # (1, ceil(T/p), C')
    report("steps_tokens", int(ids.shape[1]))
    report("shape_embedding", "x".join(map(str, embedded.shape)))
    report("steps_after_conv_valid", [int(c.shape[-1]) for c in convolved])
    report("steps_after_conv_same", int(ids.shape[1]))
    report("shape_after_maxpool", "x".join(map(str, pooled.shape)))
    report("steps_bilstm_sees", int(lengths[0]))
    report("bilstm_output_size", model.rnn.output_size)


def inspect(task, model, text: str, out: Path, report: Report) -> None:
    """Saliency (gradient x input) per token and the forward LSTM's gates over the pooled steps."""
    from rnnkit.plots.figure import text_style

    tokens = task.tokens(text)[: len(task.encode(text))]
    ids, lengths = torch.tensor([task.encode(text)]), torch.tensor([len(tokens)])
    result = saliency(model, ids, lengths)
    scores = result.scores[0]
    report("inspected_tokens", " ".join(tokens))
    report("saliency", [round(v, 4) for v in scores.tolist()])
    label = task.labels[int(result.target[0])]
    report("explained_label", f"{label} ({NSMC_LABELS[label]})" if label in NSMC_LABELS else label)
    report("token_pushing_most", tokens[int(scores.argmax())])
    title = f"saliency for {report.values['explained_label']}"
    with text_style(tokens):
        plot_saliency_text(tokens, scores, out / "t07_saliency", title, formats=("png",))
    print(f"figure = {out / 't07_saliency.png'}", flush=True)
    with torch.no_grad(), record(model.eval(), check=True) as recording:
        model(ids, lengths)
    call = recording["rnn"]
    steps = int(call.valid_lengths()[0])
    forward = {k: v[0, :steps] for k, v in call.internals[0].items()}  # forward direction: i f g o h c
    labels = group_labels(tokens, steps, model.conv.pool_size)
    report("pooled_steps", labels)
    with text_style(labels):
        plot_gates(forward, out / "t07_gates", labels, title="BiLSTM, forward direction, over pooled steps",
                   formats=("png",))  # fmt: skip
    print(f"figure = {out / 't07_gates.png'}", flush=True)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, server: subprocess.Popen, log: Path) -> None:
    """Wait until the server says it is ready, at most :data:`READY_TIMEOUT_S` seconds."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rnnkit serve exited with status {server.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/v1/health/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"rnnkit serve was not ready after {READY_TIMEOUT_S} s; see {log}")


def serve_once(run_dir: Path, text: str, report: Report) -> dict:
    """Start ``rnnkit serve RUN`` on a free loopback port, POST one predict request, stop the server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "rnnkit", "serve", str(run_dir), "--port", str(port), "--threads", "1",
               "--log-level", "warning"]  # fmt: skip
    report("serve_command", " ".join(["rnnkit", "serve", f"<out>/runs/{run_dir.name}", *command[5:]]))
    log = run_dir.parent / "serve.log"  # the server's output, read only when something goes wrong
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_ready(url, server, log)
        request = urllib.request.Request(
            f"{url}/v1/models/{run_dir.name}/predict",
            data=json.dumps({"inputs": [text]}, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = json.loads(answer.read().decode("utf-8"))
    finally:
        server.terminate()  # SIGTERM: uvicorn finishes what is in flight and exits
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
    report("serve_seconds", time.perf_counter() - start)  # start, load, answer one request, stop
    report("served_request", f"POST /v1/models/{run_dir.name}/predict")
    report("served_response", json.dumps(body, ensure_ascii=False))
    report("server_stopped", server.poll() is not None)
    return body


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    if args.small:  # a small model gains nothing from a second thread, and loses much on busy shared cores
        torch.set_num_threads(1)
    report = Report("t07_conv_lstm_korean_reviews", args.out, args.small)
    torch.manual_seed(0)
    work = work_folder(args.out)
    path = work / "t07_config.yaml"
    run_config = config(data_section(work, args.small, report), args.small)
    path.write_text(yaml.safe_dump(run_config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    start = time.perf_counter()
    run_dir = work / "nsmc_conv_lstm"  # the run folder: `rnnkit serve` names the model after it
    shutil.rmtree(run_dir, ignore_errors=True)  # this script's run of last time
    run = rnnkit.fit(path, run_dir=run_dir, quiet=True)
    report("train_seconds", time.perf_counter() - start)
    results = run.results
    report("train_size", results["sizes"]["train"])
    report("test_size", results["sizes"]["test"])
    report("test_accuracy", float(results["test_accuracy"]))
    report("majority_class_accuracy", float(results["baselines"]["majority"]["test_accuracy"]))
    tfidf = results["baselines"].get("tfidf_logistic_regression")
    tfidf_accuracy = "scikit-learn not installed" if tfidf is None else float(tfidf["test_accuracy"])
    report("tfidf_lr_accuracy", tfidf_accuracy)
    for k, result in enumerate(rnnkit.predict(run.run_dir, NEW_SENTENCES)):
        report(f"prediction_{k + 1}", f"{result['text']} -> {result['label']} ({result['probability']})")

    task, model = rnnkit.load_run(run.run_dir, device="cpu")
    model.eval()
    sequence_lengths(task, model, REVIEW, report)
    inspect(task, model, REVIEW, args.out, report)
    serve_once(Path(run.run_dir), SERVED_SENTENCE, report)
    report.save()


if __name__ == "__main__":
    main()
