"""The fetch library (ssl_lib.data.fetch) against a local HTTP server (127.0.0.1 only) serving
tiny archives in the real formats: success, a checksum mismatch, an interrupted download that
resumes, an interrupted extraction, no network."""

import hashlib
import socket
import tarfile
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from ssl_lib.data import fetch as F
from ssl_lib.data import load_dataset
from tests.data.test_datasets import write_cifar


class Files(BaseHTTPRequestHandler):
    """Serves `files` {name: bytes} with HTTP ranges; `cut` {name: n} sends only the first n bytes
    of a full (non-range) response, then drops the connection, once."""

    files: dict = {}
    cut: dict = {}
    requests: list = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, head_only: bool):
        name = self.path.lstrip("/")
        type(self).requests.append((self.command, name, self.headers.get("Range")))
        if name not in self.files:
            self.send_error(404)
            return
        data, start = self.files[name], 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if head_only:
            return
        if not self.headers.get("Range") and name in self.cut:
            self.wfile.write(data[: self.cut.pop(name)])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data[start:])

    def do_GET(self):
        self._send(head_only=False)

    def do_HEAD(self):
        self._send(head_only=True)


@pytest.fixture
def server():
    Files.files, Files.cut, Files.requests = {}, {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def cifar_archive(tmp_path: Path) -> bytes:
    """A tiny CIFAR-10 in torchvision's format, as the official .tar.gz (cifar-10-batches-py/ inside)."""
    src = tmp_path / "src"
    write_cifar(src, "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"],
                "labels", "batches.meta", "label_names", 10, np.random.default_rng(0))
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive.read_bytes()


def serve_cifar(server, tmp_path, monkeypatch, md5=None) -> bytes:
    data = cifar_archive(tmp_path)
    Files.files["cifar-10-python.tar.gz"] = data
    monkeypatch.setitem(F.SOURCES, "cifar10", [F.Resource(f"{server}/cifar-10-python.tar.gz",
                                                           md5 or hashlib.md5(data).hexdigest())])
    return data


def test_fetch_downloads_checks_extracts_then_reports_present(server, tmp_path, monkeypatch):
    serve_cifar(server, tmp_path, monkeypatch)
    root = tmp_path / "data"
    assert F.fetch("cifar10", root, log=lambda m: None) == f"cifar10: fetched into {root / 'cifar-10-batches-py'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny batches are not the official files: verify=False warns
        assert len(load_dataset("cifar10", root, "test", verify=False)) > 0
    assert not list((root / ".downloads").rglob("*.tar.gz")), "the archive stays after extraction"
    before = len(Files.requests)
    assert F.fetch("cifar10", root).startswith("cifar10: ok (present")
    assert len(Files.requests) == before, "a present dataset is fetched again"


def test_a_checksum_mismatch_is_one_line_and_the_file_is_removed(server, tmp_path, monkeypatch):
    serve_cifar(server, tmp_path, monkeypatch, md5="0" * 32)
    root = tmp_path / "data"
    with pytest.raises(F.FetchError, match=r"cifar-10-python.tar.gz from http://127.0.0.1:\d+/\S+ does not match") as err:
        F.fetch("cifar10", root, log=lambda m: None)
    assert "\n" not in str(err.value)
    assert not [p for p in root.rglob("*") if p.is_file()], "a file that failed its checksum was left"
    assert not (root / "cifar-10-batches-py").exists()


def test_an_interrupted_download_resumes_from_its_partial_file(server, tmp_path, monkeypatch):
    data = serve_cifar(server, tmp_path, monkeypatch)
    Files.cut["cifar-10-python.tar.gz"] = len(data) // 2
    root = tmp_path / "data"
    with pytest.raises(F.FetchError, match="run again to resume"):
        F.fetch("cifar10", root, log=lambda m: None)
    part = root / ".downloads" / "cifar10" / "cifar-10-python.tar.gz.part"
    assert part.stat().st_size == len(data) // 2
    assert F.fetch("cifar10", root, log=lambda m: None).startswith("cifar10: fetched")
    assert Files.requests[-1] == ("GET", "cifar-10-python.tar.gz", f"bytes={len(data) // 2}-")
    assert (root / "cifar-10-batches-py" / "test_batch").is_file()


def test_an_interrupted_extraction_leaves_no_dataset_folder_and_reuses_the_download(server, tmp_path,
                                                                                    monkeypatch):
    serve_cifar(server, tmp_path, monkeypatch)
    root = tmp_path / "data"
    real_extract = F.extract_archive

    def extract_then_die(archive, target):
        real_extract(archive, target)  # part of the tree is written, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(F, "extract_archive", extract_then_die)
    with pytest.raises(KeyboardInterrupt):
        F.fetch("cifar10", root, log=lambda m: None)
    assert not (root / "cifar-10-batches-py").exists(), "a half-installed dataset would read as present"
    monkeypatch.setattr(F, "extract_archive", real_extract)
    before = len(Files.requests)
    assert F.fetch("cifar10", root, log=lambda m: None).startswith("cifar10: fetched")
    assert len(Files.requests) == before, "the whole archive was downloaded again"
    assert (root / "cifar-10-batches-py" / "test_batch").is_file() and not (root / ".downloads" / "cifar10").exists()


def test_no_network_is_one_line_naming_the_url(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/cifar-10-python.tar.gz"
    monkeypatch.setitem(F.SOURCES, "cifar10", [F.Resource(url, "0" * 32)])
    with pytest.raises(F.FetchError, match=f"cannot reach {url}") as err:
        F.fetch("cifar10", tmp_path, log=lambda m: None)
    assert "\n" not in str(err.value)
