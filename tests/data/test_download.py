"""fetch: real HTTP downloads from a local http.server thread, hashes, cache, offline errors, safe extraction."""

from __future__ import annotations

import functools
import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rnnkit.data.download import (
    ChecksumError,
    DatasetFile,
    DatasetUnavailable,
    UnpinnedFile,
    UnsafeArchive,
    cache_path,
    extract_archive,
    fetch,
)

PAYLOAD = "id\tdocument\tlabel\n1\t좋다\t1\n".encode()
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output quiet
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture(autouse=True)
def _direct_connections(monkeypatch):
    """Talk to localhost directly even where a proxy is configured (a proxy cannot reach our server)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RNNKIT_OFFLINE", raising=False)


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on localhost serving ``tmp_path / "www"``; yields (folder, base URL, request log)."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}", httpd.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _closed_port() -> int:
    with socket.socket() as s:  # bind, read the port, close: nothing listens there afterwards
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_downloads_verifies_and_then_serves_from_the_cache(server, tmp_path):
    root, url, requests = server
    (root / "ratings.txt").write_bytes(PAYLOAD)
    file = DatasetFile(f"{url}/ratings.txt", SHA, "nsmc/ratings_train.txt")
    cache = tmp_path / "cache"
    path = fetch(file, cache_dir=cache)
    assert path == cache / "nsmc" / "ratings_train.txt" and path.read_bytes() == PAYLOAD
    assert requests == ["/ratings.txt"]
    assert fetch(file, cache_dir=cache) == path and len(requests) == 1  # cached and hash matches: no request
    assert fetch(file, cache_dir=cache, offline=True) == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["ratings_train.txt"]  # no temp files left


def test_a_corrupted_cached_copy_is_downloaded_again(server, tmp_path):
    root, url, requests = server
    (root / "ratings.txt").write_bytes(PAYLOAD)
    file = DatasetFile(f"{url}/ratings.txt", SHA, "ratings.txt")
    path = fetch(file, cache_dir=tmp_path / "c")
    path.write_bytes(PAYLOAD[:-3])  # truncated
    with pytest.raises(
        DatasetUnavailable,
        match=rf"offline mode is on.*has sha256 {hashlib.sha256(PAYLOAD[:-3]).hexdigest()}, expected {SHA}",
    ):
        fetch(file, cache_dir=tmp_path / "c", offline=True)
    assert fetch(file, cache_dir=tmp_path / "c").read_bytes() == PAYLOAD and len(requests) == 2


def test_a_wrong_hash_deletes_the_download_and_names_both_hashes(server, tmp_path):
    root, url, _ = server
    (root / "ratings.txt").write_bytes(PAYLOAD)
    wrong = "0" * 64
    file = DatasetFile(f"{url}/ratings.txt", wrong, "d/ratings.txt")
    with pytest.raises(
        ChecksumError,
        match=rf"ratings\.txt: sha256 mismatch: expected {wrong}, got {SHA}; the download was deleted",
    ):
        fetch(file, cache_dir=tmp_path / "c")
    assert list((tmp_path / "c" / "d").iterdir()) == []  # neither the file nor a temp file


def test_unreachable_server_says_offline_with_the_url_and_a_local_copy_route(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/ratings_train.txt"
    file = DatasetFile(url, SHA, "nsmc/ratings_train.txt")
    with pytest.raises(DatasetUnavailable) as info:
        fetch(file, cache_dir=tmp_path / "c", hint="call rnnkit.data.load_nsmc(PATH)", timeout=5)
    message = str(info.value)
    assert f"cannot download {url}: this machine seems to be offline" in message
    assert "To use a local copy instead: call rnnkit.data.load_nsmc(PATH)" in message
    assert f"place the file at {tmp_path / 'c' / 'nsmc' / 'ratings_train.txt'}" in message
    assert not (tmp_path / "c" / "nsmc" / "ratings_train.txt").exists()


def test_offline_mode_makes_no_request(server, tmp_path, monkeypatch):
    root, url, requests = server
    (root / "ratings.txt").write_bytes(PAYLOAD)
    file = DatasetFile(f"{url}/ratings.txt", SHA, "ratings.txt")
    with pytest.raises(DatasetUnavailable, match=r"offline mode is on.*--data PATH"):
        fetch(file, cache_dir=tmp_path / "c", offline=True)
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    with pytest.raises(DatasetUnavailable, match="offline mode is on"):
        fetch(file, cache_dir=tmp_path / "c")
    assert requests == []
    assert fetch(file, cache_dir=tmp_path / "c", offline=False).read_bytes() == PAYLOAD  # the argument wins


def test_http_errors_are_reported_as_such(server, tmp_path):
    _, url, _ = server
    with pytest.raises(DatasetUnavailable, match=r"missing\.txt: the server answered HTTP 404"):
        fetch(DatasetFile(f"{url}/missing.txt", SHA, "m.txt"), cache_dir=tmp_path / "c")


def test_unpinned_files_need_verify_false(server, tmp_path):
    root, url, requests = server
    (root / "ratings.txt").write_bytes(PAYLOAD)
    file = DatasetFile(f"{url}/ratings.txt", None, "ratings.txt")
    with pytest.raises(UnpinnedFile, match=r"no sha256 is pinned for this file.*Pass verify=False"):
        fetch(file, cache_dir=tmp_path / "c")
    assert requests == []
    assert fetch(file, cache_dir=tmp_path / "c", verify=False).read_bytes() == PAYLOAD


def test_cache_folder_comes_from_the_environment(server, tmp_path, monkeypatch):
    root, url, _ = server
    (root / "ratings.txt").write_bytes(PAYLOAD)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "env-cache"))
    file = DatasetFile(f"{url}/ratings.txt", SHA, "x/ratings.txt")
    assert fetch(file) == tmp_path / "env-cache" / "x" / "ratings.txt" == cache_path(file)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("make", "suffix"), [(_tar_gz, ".tar.gz"), (_zip, ".zip")])
def test_archives_are_extracted_once(server, tmp_path, make, suffix):
    root, url, requests = server
    data = make({"rt-polaritydata/rt-polarity.pos": b"good\n", "rt-polaritydata/rt-polarity.neg": b"bad\n"})
    (root / f"mr{suffix}").write_bytes(data)
    file = DatasetFile(
        f"{url}/mr{suffix}", hashlib.sha256(data).hexdigest(), f"mr/rt-polaritydata{suffix}", extract=True
    )
    folder = fetch(file, cache_dir=tmp_path / "c")
    assert folder == tmp_path / "c" / "mr" / "rt-polaritydata"
    assert (folder / "rt-polaritydata" / "rt-polarity.neg").read_bytes() == b"bad\n"
    assert fetch(file, cache_dir=tmp_path / "c") == folder and len(requests) == 1


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/tmp/evil.txt", "ok/../../evil.txt", "C:/evil.txt", "..\\evil.txt"]
)
@pytest.mark.parametrize("make", [_tar_gz, _zip])
def test_path_traversal_members_are_refused_and_nothing_is_written(tmp_path, name, make):
    archive = tmp_path / "a" / "bad.archive"
    archive.parent.mkdir()
    archive.write_bytes(make({"fine.txt": b"x", name: b"evil"}))
    with pytest.raises(UnsafeArchive, match="would be extracted outside the target folder; refused"):
        extract_archive(archive, tmp_path / "a" / "out")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["bad.archive"]
    assert not (tmp_path / "evil.txt").exists()


def test_links_in_archives_are_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        link = tarfile.TarInfo("data/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    (tmp_path / "l.tar").write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeArchive, match="'data/passwd' is a link or a device; refused"):
        extract_archive(tmp_path / "l.tar", tmp_path / "out")
    (tmp_path / "n.tar").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="not a zip or tar archive"):
        extract_archive(tmp_path / "n.tar", tmp_path / "out")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filename": "/abs.txt"}, "filename must be a relative path without '..'"),
        ({"filename": "a/../../b"}, "filename must be a relative path without '..'"),
        ({"sha256": "ABC"}, "sha256 must be 64 lowercase hex digits or None"),
        ({"extract": True}, "extract=True needs an archive name"),
    ],
)
def test_dataset_file_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DatasetFile(**{"url": "https://example.org/a.txt", "sha256": SHA, "filename": "a.txt", **kwargs})


def test_the_cli_reports_an_unavailable_download_as_a_user_error(tmp_path):
    """`rnnkit data download` offline: one line naming the URL and a local-copy route, status 2, no traceback."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "RNNKIT_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", "data", "download", "sst2", "--cache-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "offline mode is on" in done.stderr
    assert "https://" in done.stderr and "local copy" in done.stderr
