"""``voicecli models pull NAME…``: fetch catalogue models from the hub into the user models dir,
where every command then finds them by name (``--model``, ``--llm-model``, ``--voice``). The
download itself (resume, disk space, checksums, one-line errors) is
:func:`voicecli.catalog.download.download`; this module picks the entries and shows progress: a
Rich bar on a terminal, a line per quarter when stderr is piped (logs, CI)."""

from __future__ import annotations

import difflib
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicecli.cli.common import VerboseOpt, err_console, handle_errors, settings_from

if TYPE_CHECKING:
    from voicecli.catalog.resolve import ManifestEntry, ModelResolver

SELECT_FLAG = {"stt": "--model", "llm": "--llm-model", "tts": "--voice"}
"""How each kind is chosen on the command line (talk, transcribe, serve, bench)."""


class LineProgress:
    """Progress for a piped stderr: a line when a file starts, at every quarter, and at the end."""

    def __init__(self) -> None:
        self.label, self.total, self.done, self.next_quarter = "", 0, 0, 1

    def start(self, label: str, total: int | None, done: int) -> None:
        from voicecli.catalog.fetch import human_bytes

        self.label, self.total, self.done = label, total or 0, done
        self.next_quarter = int(4 * done / self.total) + 1 if self.total else 1
        size = human_bytes(self.total) if self.total else "unknown size"
        resumed = f", resuming at {human_bytes(done)}" if done else ""
        print(f"{label}: downloading {size}{resumed}", file=sys.stderr, flush=True)

    def advance(self, n: int) -> None:
        self.done += n
        while self.total and self.next_quarter <= 4 and self.done * 4 >= self.next_quarter * self.total:
            self._line(25 * self.next_quarter)
            self.next_quarter += 1

    def _line(self, percent: int) -> None:
        from voicecli.catalog.fetch import human_bytes

        print(f"{self.label}: {percent}% ({human_bytes(self.done)} of {human_bytes(self.total)})",
              file=sys.stderr, flush=True)

    def finish(self) -> None:
        if not self.total:
            self._line(100)


class RichProgress:
    """Progress for a terminal: one Rich bar per file (size, speed, time left)."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task: Any = None

    def start(self, label: str, total: int | None, done: int) -> None:
        self.task = self.progress.add_task(label, total=total, completed=done)

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)

    def finish(self) -> None:
        self.progress.update(self.task, completed=self.progress.tasks[-1].total)


def find_entry(res: ModelResolver, name: str, kind: str | None) -> ManifestEntry:
    """The catalogue entry called ``name`` (a hub id ``org/repo`` stands for a Whisper repo)."""
    from voicecli.catalog.resolve import ManifestEntry
    from voicecli.errors import ModelNotFoundError

    matches = [e for e in res.manifest if e.name == name and e.hub and kind in (None, e.kind)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ModelNotFoundError(f"'{name}' names more than one model", "add --kind stt, tts or llm")
    if name.count("/") == 1 and kind in (None, "stt"):
        return ManifestEntry("stt", name, hub=name)
    close = difflib.get_close_matches(name, [e.name for e in res.manifest if e.hub], n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise ModelNotFoundError(f"no model '{name}' in the catalogue",
                             f"{hint}`voicecli models --available` lists them")


def pull(
    names: Annotated[list[str], typer.Argument(
        metavar="NAME", help="Catalogue names (see `voicecli models --available`), or a Whisper hub repo org/name.",
        show_default=False)],
    kind: Annotated[str | None, typer.Option(
        "--kind", "-k", metavar="KIND", help="Only look among this kind: stt, tts or llm.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Download models from the Hugging Face hub (HF_ENDPOINT) into the user models dir, with a
    progress bar; an interrupted pull resumes, and every file is checked against the hub's
    SHA-256 (and the catalogue's, when pinned) before it is used."""
    from voicecli.catalog.resolve import ModelResolver
    from voicecli.config import data_dir
    from voicecli.engines import search_dirs
    from voicecli.errors import ModelNotFoundError

    with handle_errors(verbose):
        settings = settings_from({}).settings
        res = ModelResolver(search_dirs(settings), allow_download=False)
        entries = [find_entry(res, name, kind) for name in dict.fromkeys(names)]
        root = data_dir() / "models"
        for e in entries:
            try:
                found = res.resolve(e.kind, e.name)
            except ModelNotFoundError:
                found = None
            if found is not None:
                print(f"{e.name}: already installed ({found.source}: {found.path})", flush=True)
                continue
            path = _download(e, root)
            flag = SELECT_FLAG.get(e.kind, "")
            print(f"{e.name}: installed in {path} (use it with {flag} {e.name})", flush=True)


def _download(e: ManifestEntry, root: Any) -> Any:
    from voicecli.catalog.download import download

    assert e.hub is not None  # find_entry only returns entries with a hub repo
    if not err_console.is_terminal:
        return download(e.kind, e.hub, e.hub_file, root, e.name, sha256=e.sha256, progress=LineProgress())
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=err_console, transient=False) as bar:
        return download(e.kind, e.hub, e.hub_file, root, e.name, sha256=e.sha256, progress=RichProgress(bar))
