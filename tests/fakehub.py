"""A fake Hugging Face hub on loopback: just enough of the HTTP API for huggingface_hub's
``snapshot_download`` and ``hf_hub_download`` (checked against huggingface_hub 2.x):

- ``GET /api/models/{repo}[/revision/{rev}]`` → repo info with ``sha`` and ``siblings``
- ``GET /api/models/{repo}/tree/{rev}[/{path}]`` → the file listing (no pagination)
- ``HEAD|GET /{repo}/resolve/{rev}/{file}`` → the file, with ``X-Repo-Commit``, ``ETag`` and
  ``Content-Length`` (and ``Range`` support for resumed downloads). Files of 1 MB or more are
  "LFS" files as on the real hub: ``X-Linked-Etag`` (their SHA-256) and ``X-Linked-Size``;
  smaller ones have the git blob SHA-1 as ``ETag``.

Faults for tests: ``corrupt`` files are served with one byte changed (the headers still tell the
truth); a file in ``cut`` is served only up to that many bytes by its first ``GET``, which then
hangs (``cut_mode="hang"``, until the hub shuts down, so the test can kill the client) or drops
the connection (``"drop"``). :attr:`FakeHub.served` counts the body bytes sent per file.

Unknown repos and files answer 404 with the ``X-Error-Code`` the real hub sends. Point
``HF_ENDPOINT`` at :attr:`FakeHub.url`. Every request is recorded in :attr:`FakeHub.requests`."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


LFS_MIN_BYTES = 1_000_000


class _Repo:
    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files
        self.sha256 = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in files.items()}
        self.git_sha1 = {name: hashlib.sha1(b"blob %d\0" % p.stat().st_size + p.read_bytes()).hexdigest()
                         for name, p in files.items()}


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, Path]], *, corrupt: frozenset[tuple[str, str]] = frozenset(),
                 cut: dict[tuple[str, str], int] | None = None, cut_mode: str = "hang") -> None:
        """``repos`` maps ``org/name`` to {path in repo: local file}; ``corrupt`` and ``cut`` name
        files as (repo, path)."""
        self.repos = {rid: _Repo(files) for rid, files in repos.items()}
        self.requests: list[tuple[str, str]] = []
        self.ranges: list[str | None] = []
        """The ``Range`` header of every file ``GET``."""
        self.served: dict[str, int] = {}
        self.corrupt = corrupt
        self.cut = dict(cut or {})
        self.cut_mode = cut_mode
        self.stop = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

            def do_GET(self) -> None:
                hub._handle(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakehub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ routing

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        self.requests.append((h.command, path))
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m:
            return self._repo_info(h, m.group(1), head)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path)
        if m:
            return self._tree(h, m.group(1), m.group(3) or "", head)
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self._file(h, m.group(1), m.group(3), head)
        self._error(h, 404, "EntryNotFound", f"no route {path}", head)

    def _error(self, h: BaseHTTPRequestHandler, code: int, error_code: str, message: str, head: bool) -> None:
        body = json.dumps({"error": message}).encode()
        h.send_response(code)
        h.send_header("X-Error-Code", error_code)
        h.send_header("X-Error-Message", message)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _json(self, h: BaseHTTPRequestHandler, payload: object, head: bool) -> None:
        body = json.dumps(payload).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _repo_info(self, h: BaseHTTPRequestHandler, repo_id: str, head: bool) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", f"Repository Not Found for url: {repo_id}", head)
        self._json(h, {"id": repo_id, "modelId": repo_id, "sha": COMMIT, "private": False,
                       "siblings": [{"rfilename": f} for f in sorted(repo.files)]}, head)

    def _tree(self, h: BaseHTTPRequestHandler, repo_id: str, prefix: str, head: bool) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", f"Repository Not Found for url: {repo_id}", head)
        entries = []
        for name, p in sorted(repo.files.items()):
            if prefix and not name.startswith(prefix.rstrip("/") + "/"):
                continue
            size = p.stat().st_size
            entries.append({"type": "file", "path": name, "size": size, "oid": repo.sha256[name][:40],
                            "lfs": {"oid": repo.sha256[name], "size": size, "pointerSize": 134}})
        self._json(h, entries, head)

    def _file(self, h: BaseHTTPRequestHandler, repo_id: str, name: str, head: bool) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", f"Repository Not Found for url: {repo_id}", head)
        if name not in repo.files:
            return self._error(h, 404, "EntryNotFound", f"{name} does not exist", head)
        data = repo.files[name].read_bytes()
        lfs = len(data) >= LFS_MIN_BYTES
        start = 0
        rng = h.headers.get("Range")
        if not head:
            self.ranges.append(rng)
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and int(m.group(1)) < len(data):
            start = int(m.group(1))
        h.send_response(206 if start else 200)
        h.send_header("X-Repo-Commit", COMMIT)
        if lfs:
            h.send_header("X-Linked-Etag", f'"{repo.sha256[name]}"')
            h.send_header("X-Linked-Size", str(len(data)))
        h.send_header("ETag", f'"{repo.sha256[name] if lfs else repo.git_sha1[name]}"')
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(data) - start))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if head:
            return
        if (repo_id, name) in self.corrupt:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
        body = data[start:]
        cut = self.cut.pop((repo_id, name), None)
        if cut is not None:
            self._send(h, name, body[:cut])
            if self.cut_mode == "hang":
                self.stop.wait(120)
            h.close_connection = True
            return
        self._send(h, name, body)

    def _send(self, h: BaseHTTPRequestHandler, name: str, body: bytes) -> None:
        step = 1 << 16
        for i in range(0, len(body), step):
            h.wfile.write(body[i:i + step])
            h.wfile.flush()
            self.served[name] = self.served.get(name, 0) + len(body[i:i + step])
