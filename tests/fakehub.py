"""A fake Hugging Face hub on loopback: just enough of the HTTP API for huggingface_hub's
``snapshot_download`` and ``hf_hub_download`` (checked against huggingface_hub 2.x):

- ``GET /api/models/{repo}[/revision/{rev}]`` → repo info with ``sha`` and ``siblings``
- ``GET /api/models/{repo}/tree/{rev}[/{path}]`` → the file listing (no pagination)
- ``HEAD|GET /{repo}/resolve/{rev}/{file}`` → the file, with ``X-Repo-Commit``, ``ETag`` and
  ``Content-Length`` (and ``Range`` support for resumed downloads)

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


class _Repo:
    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files
        self.sha256 = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in files.items()}


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, Path]]) -> None:
        """``repos`` maps ``org/name`` to {path in repo: local file}."""
        self.repos = {rid: _Repo(files) for rid, files in repos.items()}
        self.requests: list[tuple[str, str]] = []
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
        start = 0
        rng = h.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and int(m.group(1)) < len(data):
            start = int(m.group(1))
        h.send_response(206 if start else 200)
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("ETag", f'"{repo.sha256[name]}"')
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(data) - start))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if not head:
            h.wfile.write(data[start:])
