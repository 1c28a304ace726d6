"""One hub file, fetched so that it can be trusted: asked about first (size and etag from the
hub's ``HEAD``), written to a ``.incomplete`` file that survives an interrupted run (the next
run asks the hub for the rest with an HTTP ``Range``), and checked before it gets its real name:
its SHA-256 against the hub's etag (for LFS files the etag *is* the SHA-256; for small files it
is the git blob SHA-1, checked as such) and against a SHA-256 pinned in the catalogue when there
is one. A file that does not match is removed and the error says to pull again.

Everything on the wire goes through huggingface_hub (``get_hf_file_metadata``, ``http_get``,
``HfApi.model_info``), so ``HF_ENDPOINT``, ``HF_TOKEN``, proxies and its retries apply. Its own
``hf_hub_download`` is not used for the file itself because it throws away a partial file when
the process dies (huggingface_hub ≥ 1.x downloads into a per-process temporary file)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from voicecli.errors import DownloadError

CHUNK_BYTES = 1 << 20
SHA256_RE = re.compile(r"[0-9a-f]{64}")
SHA1_RE = re.compile(r"[0-9a-f]{40}")


class ProgressSink(Protocol):
    """Where download progress goes (a Rich bar on a terminal, milestone lines when piped)."""

    def start(self, label: str, total: int | None, done: int) -> None:
        """A file starts; ``done`` bytes of it are already on disk (a resumed download)."""

    def advance(self, n: int) -> None:
        """``n`` more bytes arrived (negative when a server ignored a resume and it starts over)."""

    def finish(self) -> None:
        """The current file is complete."""


class NoProgress:
    def start(self, label: str, total: int | None, done: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(frozen=True)
class HubFile:
    repo: str
    path: str
    """Path inside the repo."""
    url: str
    """Where the bytes are (the hub's redirect target when it sends one)."""
    size: int | None
    etag: str | None
    """The hub's ``X-Linked-Etag`` (LFS: the SHA-256) or ``ETag`` (git blob SHA-1), unquoted."""


def endpoint() -> str:
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


@contextlib.contextmanager
def hub_errors(repo: str) -> Iterator[None]:
    """Turn huggingface_hub / HTTP failures into one :class:`DownloadError` line."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    network: tuple[type[BaseException], ...] = (*_transport_errors(), ConnectionError, TimeoutError)
    try:
        yield
    except OfflineModeIsEnabled as exc:
        raise DownloadError(f"cannot download {repo}: HF_HUB_OFFLINE is set",
                            "unset HF_HUB_OFFLINE, or put the model in models/") from exc
    except HfHubHTTPError as exc:
        raise DownloadError(f"download of {repo} from {endpoint()} failed: {_first_line(exc)}",
                            "check the name and the network, or put the model in models/") from exc
    except network as exc:
        raise DownloadError(f"cannot reach the hub at {endpoint()}; check the network or HF_ENDPOINT") from exc


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's network errors: huggingface_hub 2.x uses httpx2, 1.x httpx, older requests."""
    import importlib

    found: list[type[BaseException]] = []
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "ConnectionError")):
        with contextlib.suppress(ImportError, AttributeError):
            found.append(getattr(importlib.import_module(module), name))
    return tuple(found)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(repo: str, path: str, revision: str = "main") -> HubFile:
    """The hub's size and etag for one file (a ``HEAD``); call inside :func:`hub_errors`."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo, path, revision=revision, endpoint=endpoint())
    meta = get_hf_file_metadata(url, endpoint=endpoint())
    etag = (meta.etag or "").strip('"').removeprefix("W/").strip('"').lower() or None
    return HubFile(repo, path, meta.location or url, meta.size, etag)


def repo_files(repo: str) -> tuple[str, list[str]]:
    """The commit ``main`` points at and the repo's file paths (``/api/models/{repo}/revision/main``)."""
    from huggingface_hub import HfApi

    info = HfApi(endpoint=endpoint()).model_info(repo, revision="main")
    return info.sha or "main", [s.rfilename for s in info.siblings or []]


def partial_path(staging: Path, f: HubFile) -> Path:
    """The ``.incomplete`` file of ``f``; named by the etag, so a file changed on the hub starts over."""
    tag = (f.etag or "no-etag")[:16]
    return staging / f"{f.path.replace('/', '--')}.{tag}.incomplete"


def done_path(staging: Path, f: HubFile) -> Path:
    return staging / f.path.replace("/", "--")


def remaining_bytes(staging: Path, f: HubFile) -> int:
    """What is still to fetch of ``f`` (its size minus what earlier runs left in ``staging``)."""
    if f.size is None:
        return 0
    if done_path(staging, f).exists():
        return 0
    part = partial_path(staging, f)
    have = part.stat().st_size if part.exists() else 0
    return max(f.size - have, 0) if have <= f.size else f.size


def check_space(need: int, folder: Path, free: int | None = None) -> None:
    """Refuse to start when ``folder``'s disk has less than ``need`` bytes free."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free if free is None else free
    if need > free:
        raise DownloadError(f"not enough disk space in {folder}: the download needs {human_bytes(need)}, "
                            f"{human_bytes(free)} is free", "free some space, or point XDG_DATA_HOME at a bigger disk")


def human_bytes(n: int) -> str:
    """Bytes for people: 512 B, 2.0 KB, 75.3 MB, 1.5 GB (powers of 1000)."""
    if n < 1000:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB"):
        size /= 1000
        if size < 1000:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} GB"


def fetch(f: HubFile, staging: Path, model: str, pinned_sha256: str | None = None,
          progress: ProgressSink | None = None) -> Path:
    """Download ``f`` into ``staging`` (resuming what an earlier run left), verify it and return
    the complete file. Call inside :func:`hub_errors`."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    sink = progress or NoProgress()
    done = done_path(staging, f)
    if done.exists():  # complete in an earlier, interrupted run: checked again, then reused
        verify(done, f, model, pinned_sha256)
        return done
    staging.mkdir(parents=True, exist_ok=True)
    part = partial_path(staging, f)
    for stale in staging.glob("*.incomplete"):
        if stale != part and stale.name.rsplit(".", 2)[0] == done.name:  # changed on the hub since: useless
            stale.unlink()
    have = part.stat().st_size if part.exists() else 0
    if f.size is not None and have > f.size:
        part.unlink()
        have = 0
    sink.start(f"{model}: {f.path.rsplit('/', 1)[-1]}", f.size, have)
    with part.open("ab") as out:
        http_get(f.url, out, resume_size=have, headers=build_hf_headers(), expected_size=f.size,
                 tqdm_class=_bar_class(sink))
    sink.finish()
    verify(part, f, model, pinned_sha256)
    part.replace(done)
    return done


def _bar_class(sink: ProgressSink) -> Any:
    """A tqdm look-alike for ``http_get`` that feeds ``sink`` (huggingface_hub builds it itself)."""

    class Bar:
        def __init__(self, **_: object) -> None:
            pass

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: int | float | None = 1) -> None:
            sink.advance(int(n or 0))

    return Bar


def verify(path: Path, f: HubFile, model: str, pinned_sha256: str | None) -> None:
    """Check ``path`` against the hub's etag and the pinned hash; remove it when it does not match."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    blob_sha1 = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)  # git's object id
    with path.open("rb") as src:
        while chunk := src.read(CHUNK_BYTES):
            sha256.update(chunk)
            blob_sha1.update(chunk)
    checks: list[tuple[str, str, str]] = []  # (whose, expected, got)
    if f.size is not None and size != f.size:
        checks.append(("the hub's size", str(f.size), str(size)))
    if f.etag and SHA256_RE.fullmatch(f.etag):
        checks.append(("the hub's SHA-256", f.etag, sha256.hexdigest()))
    elif f.etag and SHA1_RE.fullmatch(f.etag):
        checks.append(("the hub's git SHA-1", f.etag, blob_sha1.hexdigest()))
    if pinned_sha256:
        checks.append(("the catalogue's SHA-256", pinned_sha256.lower(), sha256.hexdigest()))
    for whose, expected, got in checks:
        if expected != got:
            path.unlink()
            raise DownloadError(f"{model}: {f.path} from {f.repo} is corrupt ({got[:16]} does not match "
                                f"{whose} {expected[:16]}); the file was removed",
                                f"run `voicecli models pull {model}` again")
