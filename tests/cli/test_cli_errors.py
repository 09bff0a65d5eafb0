"""Every error a user can fix ends ``rnnkit`` with one line on stderr and status 2, no traceback (unless
``--debug`` / ``RNNKIT_DEBUG=1``); a bug keeps its traceback, asks for a report and exits 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rnnkit.cli.main as cli
from rnnkit.cli.main import run


def korean_table(path: Path) -> Path:
    rows = ["text,label"] + ["정말 재미있는 영화였어요,긍정", "시간이 아까운 영화,부정"] * 10
    path.write_bytes(("\n".join(rows) + "\n").encode("cp949"))
    return path


BAD = [  # (arguments, what the message must name); {tmp} is the test's folder
    (["train", "{tmp}/missing.yaml"], "missing.yaml"),
    (["train", "--set", "bogus.key=1", "--print-config"], "unknown key 'bogus'"),
    (["train", "--set", "model.rnn.cell=grux", "--print-config"], "grux"),
    (
        [
            "train",
            "--task",
            "classification",
            "--train",
            "{tmp}/k.csv",
            "--set",
            "data.encoding=bogus",
            "--print-config",
        ],
        "unknown encoding 'bogus'",
    ),
    (["train", "--task", "classification", "--train", "{tmp}/absent.csv", "-o", "{tmp}/run"], "absent.csv"),
    (["evaluate", "{tmp}/no_run"], "no_run"),
    (["predict", "{tmp}/no_run", "좋아요"], "no_run"),
    (["predict", "{tmp}/no_run", "좋아요", "--int8"], "--int8 applies to an export folder"),
    (["export", "{tmp}/no_run"], "no_run"),
    (["inspect", "{tmp}/no_run"], "no_run"),
    (["inspect", "{tmp}/no_run", "좋아요", "--no-such-flag"], "--no-such-flag"),
    (["report", "{tmp}/no_run"], "no_run"),
    (["tune", "{tmp}/missing.yaml", "--trials", "1", "--budget", "10s"], "missing.yaml"),
    (["data", "describe", "no_such_dataset"], "unknown dataset 'no_such_dataset'"),
    (["data", "download"], "give a dataset name"),
]


@pytest.mark.parametrize(("argv", "named"), BAD, ids=[" ".join(a[:2]) for a, _ in BAD])
def test_a_user_error_is_one_line_and_status_2(
    argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv("RNNKIT_DEBUG", raising=False)
    korean_table(tmp_path / "k.csv")
    try:
        status = run([a.replace("{tmp}", str(tmp_path)) for a in argv])
    except SystemExit as exit_:  # argparse's own usage errors: two lines, status 2
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    assert named in err
    assert len(err.strip().splitlines()) <= 3, err


def test_debug_keeps_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.delenv("RNNKIT_DEBUG", raising=False)
    assert run(["train", str(tmp_path / "missing.yaml"), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("RNNKIT_DEBUG", "1")
    assert run(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_bug_prints_its_traceback_and_asks_for_a_report(
    capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    def broken(argv):
        raise RuntimeError("an internal invariant failed")

    monkeypatch.setattr(cli, "main", broken)
    assert run(["train"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "an internal invariant failed" in err
    assert "bug in rnnkit" in err and "report" in err


def test_a_korean_cp949_table_is_read_and_the_resolved_config_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = korean_table(tmp_path / "k.csv")
    assert run(["train", "--task", "classification", "--train", str(table), "--print-config"]) == 0
    assert "encoding: auto" in capsys.readouterr().out


FIXTURE_RUN = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "chatterbot_v0"
DAMAGES = {  # how a copy of a finished run folder is damaged -> what the message must name
    "no task.json": (lambda run: (run / "task.json").unlink(), "task.json"),
    "task.json not JSON": (
        lambda run: (run / "task.json").write_text("{not json", encoding="utf-8"),
        "task.json",
    ),
    "no run.yaml": (lambda run: (run / "run.yaml").unlink(), "run.yaml"),
    "a file, not a folder": (lambda run: (shutil.rmtree(run), run.write_text("x")), "run"),
}
RUN_COMMANDS = [["evaluate", "{run}"], ["predict", "{run}", "좋아요"], ["inspect", "{run}", "--text", "좋아요"],
                ["report", "{run}"], ["export", "{run}", "-o", "{tmp}/exported"]]  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("argv", RUN_COMMANDS, ids=[a[0] for a in RUN_COMMANDS])
def test_a_damaged_run_folder_is_a_user_error_for_every_command_that_reads_one(
    argv: list[str], damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv("RNNKIT_DEBUG", raising=False)
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE_RUN, run_dir)
    spoil, named = DAMAGES[damage]
    spoil(run_dir)
    status = run([a.replace("{run}", str(run_dir)).replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and named in err
    assert len(err.strip().splitlines()) <= 3, err
