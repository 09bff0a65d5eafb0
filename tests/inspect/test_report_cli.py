"""`rnnkit report` and `rnnkit inspect` on a tiny trained run: a self-contained page with every picture."""

import base64
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.inspect.examples import Example
from rnnkit.inspect.inspection import inspect_example
from rnnkit.layers.factory import RNNConfig
from rnnkit.losses import masked_cross_entropy
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

ROOT = Path(__file__).resolve().parents[2]
TINY = ["train.epochs=2", "train.early_stopping_patience=null", "model.rnn.hidden_size=8", "model.conv.channels=8",
        "model.embedding_dim=8"]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "bot"
    assert main(["train", "--quiet", "-o", str(run), *[f"--set={o}" for o in TINY]]) == 0
    return run


class Page(HTMLParser):
    """Everything a browser would fetch, and the embedded images."""

    def __init__(self):
        super().__init__()
        self.images, self.kinds, self.fetched, self.tags = [], [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "figure":
            self.kinds.append(attrs.get("data-kind"))
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None and not value.startswith("data:"):
                self.fetched.append(value)
        if tag == "img":
            self.images.append(attrs["src"])


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_the_report_is_one_offline_page_with_every_picture(run_dir, capsys):
    assert main(["report", str(run_dir), "--examples", "1", "--flow-batches", "1", "--format", "png"]) == 0
    html_path = run_dir / "report.html"
    assert str(html_path) in capsys.readouterr().out
    page = parse(html_path)
    assert page.fetched == [] and not {"script", "link", "iframe"} & page.tags  # nothing to fetch
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    for src in page.images:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    # learning curves and confusion matrix of the run, the example's inside views, the dataset's gradient flow
    assert {"run", "gates", "cells", "gradients", "jacobian", "saliency", "flow"} <= set(page.kinds)
    assert page.kinds.count("run") == 2 and page.kinds.count("flow") == 2
    assert len(page.images) == len(page.kinds)
    text = html_path.read_text(encoding="utf-8")
    assert "test_accuracy" in text and "Gates over the validation data" in text and 'class="token"' in text
    pictures = {p.name for p in (run_dir / "report").iterdir()}
    assert "flow_jacobian.png" in pictures and "example1_saliency.png" in pictures


def test_inspect_draws_given_texts_with_the_predict_encoding(run_dir, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n오늘 너무 슬퍼\n", encoding="utf-8")
    out = tmp_path / "pictures"
    code = main(["inspect", str(run_dir), "--text", "hello there", "--input", str(texts), "--out", str(out),
                 "--format", "png"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.count("predicted:") == 2
    names = {p.name for p in out.iterdir()}
    for k in (1, 2):
        assert f"input{k}_saliency.png" in names and f"input{k}_rnn_0_gates.png" in names
        assert f"input{k}_rnn_1_gates.png" in names  # the run's BiLSTM: the backward direction too
    assert not any(name.endswith(".svg") for name in names)
    page = parse(out / "index.html")
    assert page.fetched == [] and len(page.images) == len(page.kinds) > 0


def test_inspect_errors_are_reported_not_raised(run_dir, tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing"), "--text", "hi"]) == 2
    assert "no such folder; give a run folder" in capsys.readouterr().err
    assert main(["inspect", str(run_dir), "--input", str(tmp_path / "none.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2


def test_a_seq2seq_example_gets_its_attention_alignment(tmp_path):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=10, tgt_vocab_size=10, embedding_dim=6,
                                  encoder=RNNConfig(cell="gru", hidden_size=4, bidirectional=True),
                                  decoder=RNNConfig(cell="lstm", hidden_size=8)))  # fmt: skip
    batch = {"src": torch.tensor([[4, 5, 6, 7]]), "src_lengths": torch.tensor([4]),
             "tgt_in": torch.tensor([[2, 8, 9]]), "tgt_out": torch.tensor([[8, 9, 3]]),
             "tgt_lengths": torch.tensor([3])}  # fmt: skip
    example = Example("pair", batch, {"encoder": ["a", "b", "c", "d"], "decoder": ["<bos>", "x", "y"]})

    def loss(m, b):
        return masked_cross_entropy(
            m(b["src"], b["src_lengths"], b["tgt_in"], b["tgt_lengths"])[0], b["tgt_out"]
        )

    report = inspect_example(model, example, loss, tmp_path, formats=("png",), projections=None)
    kinds = [p.kind for p in report.pictures]
    assert kinds.count("attention") == 1 and kinds.count("gates") == 3  # encoder x 2 directions, decoder
    assert (tmp_path / "example_attention.png").is_file() and report.loss > 0


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="no chromium on PATH (Debian: apt-get install chromium)"
)
def test_a_headless_chromium_screenshot_of_the_report(run_dir, tmp_path):
    if not (run_dir / "report.html").is_file():
        assert (
            main(["report", str(run_dir), "--examples", "1", "--flow-batches", "1", "--format", "png"]) == 0
        )
    shot = tmp_path / "shot.png"
    script = ROOT / "scripts" / "screenshot_report.sh"
    result = subprocess.run([str(script), str(run_dir), str(shot), "1000", "1400"], capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000  # a rendered page, not a blank one
