"""Model resolution order and the doctor's pure decisions. Fake model folders, no real models,
no network (hub downloads are tested end to end in tests/e2e/test_hub_download.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecli.catalog import doctor
from voicecli.catalog.resolve import ManifestEntry, ModelResolver, scan_dropins
from voicecli.errors import ModelNotFoundError


def whisper_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(b"\0" * 10)
    (path / "config.json").write_text("{}")
    return path


@pytest.fixture
def package(tmp_path, monkeypatch) -> Path:
    """An importable fake model package `fake_models` holding a Whisper dir."""
    site = tmp_path / "site"
    pkg = site / "fake_models"
    whisper_dir(pkg / "model")
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    return pkg / "model"


MANIFEST = [
    ManifestEntry("stt", "small.en", ("en",), package="fake-models", module="fake_models", subpath="model",
                  hub="org/faster-whisper-small.en", default=True),
    ManifestEntry("stt", "medium", ("multi",), hub="org/faster-whisper-medium"),
    ManifestEntry("stt", "pkg-only", ("en",), package="not-installed-pkg", module="not_installed_pkg_xyz"),
]


def resolver(dirs, **kw) -> ModelResolver:
    return ModelResolver(dirs, manifest=MANIFEST, download_dir=Path("/nonexistent/dl"), **kw)


def test_explicit_path_wins(tmp_path, package):
    explicit = whisper_dir(tmp_path / "mine" / "small.en")
    dropin = tmp_path / "models"
    whisper_dir(dropin / "small.en")
    m = resolver([dropin]).resolve("stt", str(explicit))
    assert (m.path, m.source, m.name) == (explicit.resolve(), "path", "small.en")


def test_dropin_folder_before_package(tmp_path, package):
    first, second = tmp_path / "a", tmp_path / "b"
    whisper_dir(second / "faster-whisper-small.en")
    m = resolver([first, second]).resolve("stt", "small.en")
    assert m.path == second / "faster-whisper-small.en" and m.source == f"models-dir ({second})"
    whisper_dir(first / "small.en")
    assert resolver([first, second]).resolve("stt", "small.en").path == first / "small.en"


def test_package_when_no_dropin(tmp_path, package):
    m = resolver([tmp_path / "empty"]).resolve("stt", None)  # None = the manifest default
    assert (m.name, m.path, m.source, m.languages) == ("small.en", package, "package (fake-models)", ("en",))


def test_hub_only_model_needs_allow_download(tmp_path):
    with pytest.raises(ModelNotFoundError) as e:
        resolver([tmp_path]).resolve("stt", "medium")
    line = e.value.one_line()
    assert "stt model 'medium' not found" in line
    assert "org/faster-whisper-medium" in line and "--allow-download" in line


def test_unknown_hub_id_hint_mentions_download(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found") as e:
        resolver([tmp_path]).resolve("stt", "someone/some-whisper")
    assert "someone/some-whisper" in e.value.one_line()


def test_missing_package_hint_says_what_to_install(tmp_path):
    with pytest.raises(ModelNotFoundError) as e:
        resolver([tmp_path]).resolve("stt", "pkg-only")
    assert e.value.hint == "pip install not-installed-pkg"


def test_downloaded_hub_id_is_found_offline_next_time(tmp_path):
    """catalog.download stores `org/repo` as `org--repo` in the user models dir."""
    whisper_dir(tmp_path / "someone--some-whisper")
    m = resolver([tmp_path]).resolve("stt", "someone/some-whisper")
    assert m.path == tmp_path / "someone--some-whisper" and m.source.startswith("models-dir")


def test_allowed_download_calls_the_downloader(tmp_path, monkeypatch):
    calls = []

    def fake_download(kind, repo, hub_file, root, name=None, sha256=None):
        calls.append((kind, repo, hub_file, root, name, sha256))
        return whisper_dir(root / name)

    monkeypatch.setattr("voicecli.catalog.download.download", fake_download)
    r = ModelResolver([tmp_path / "none"], allow_download=True, download_dir=tmp_path / "dl", manifest=MANIFEST)
    m = r.resolve("stt", "medium")
    assert calls == [("stt", "org/faster-whisper-medium", None, tmp_path / "dl", "medium", None)]
    assert m.source == "hub (org/faster-whisper-medium)" and m.path == tmp_path / "dl" / "medium"


def test_available_and_downloadable(tmp_path, package):
    whisper_dir(tmp_path / "medium")
    whisper_dir(tmp_path / ".medium.partial")  # a download in progress is not a model
    (tmp_path / "voice.onnx").write_bytes(b"x")
    (tmp_path / "voice.onnx.json").write_text("{}")
    (tmp_path / "tiny-llm.gguf").write_bytes(b"x")
    r = resolver([tmp_path])
    got = {(m.kind, m.name, m.source.split(" ")[0]) for m in r.available()}
    assert got == {("stt", "medium", "models-dir"), ("tts", "voice", "models-dir"), ("llm", "tiny-llm", "models-dir"),
                   ("stt", "small.en", "package")}
    assert [e.name for e in r.downloadable()] == []  # medium is already here; small.en installed
    assert [p.name for _, _, p in scan_dropins(tmp_path)] == ["medium", "tiny-llm.gguf", "voice.onnx"]


def test_size_counts_every_file(tmp_path):
    from voicecli.catalog.resolve import ResolvedModel

    d = whisper_dir(tmp_path / "m")
    assert ResolvedModel("stt", "m", d, "path").size_bytes == 12


# ------------------------------------------------------------------ doctor decisions

NO_AMX = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
WITH_AMX = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "


@pytest.mark.parametrize("info,expected", [
    (NO_AMX, False), (WITH_AMX, True), ("CPU : AMX_INT8 = 0 | ", False), ("CPU : AMX = 1 |", True),
])
def test_build_has_amx(info, expected):
    assert doctor.build_has_amx(info) is expected


@pytest.mark.parametrize("info,reports,usable,status,words", [
    (NO_AMX, False, None, "ok", "no AMX kernels"),
    (NO_AMX, True, None, "ok", "no AMX kernels"),
    (WITH_AMX, True, True, "ok", "AMX tiles usable"),
    (WITH_AMX, True, False, "fail", "SIGSEGV in ldtilecfg"),   # the crash this project hit
    (WITH_AMX, False, None, "fail", "this CPU has no AMX"),
])
def test_amx_verdict(info, reports, usable, status, words):
    c = doctor.amx_verdict(info, reports, usable)
    assert c.status == status and words in c.detail
    if status == "fail":
        assert "-DGGML_AMX_INT8=OFF" in c.fix


def test_check_backends_reports_missing_and_optional(monkeypatch):
    def fake_import(name):
        if name == "piper":
            raise ImportError("No module named 'piper'")
        if name == "huggingface_hub":
            raise OSError("libfoo.so: cannot open shared object file")
        return type("M", (), {"__version__": "1.0", "get_cuda_device_count": staticmethod(lambda: 0)})

    checks = {c.area: c for c in doctor.check_backends(fake_import, system="Linux", machine="x86_64")}
    assert checks["TTS (piper-tts)"].status == "fail" and "pip install piper-tts" in checks["TTS (piper-tts)"].fix
    assert checks["model downloads (huggingface_hub)"].status == "warn"
    assert checks["STT (faster-whisper)"].status == "ok"
    assert checks["STT on Apple Silicon (mlx-whisper)"].status == "info"
    mac = {c.area: c for c in doctor.check_backends(fake_import, system="Darwin", machine="arm64")}
    assert mac["STT on Apple Silicon (mlx-whisper)"].status == "ok"


@pytest.mark.parametrize("version,status", [((3, 9, 18), "fail"), ((3, 10, 0), "ok"), ((3, 13, 1), "ok")])
def test_check_python(version, status):
    assert doctor.check_python(version).status == status


def test_check_llama_without_llama_cpp():
    def no_llama(name):
        raise ImportError("No module named 'llama_cpp'")

    c = doctor.check_llama(no_llama)
    assert c.status == "fail" and "llama_cpp unavailable" in c.detail
