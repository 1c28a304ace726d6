"""The pieces of `voicecli models pull`: the catalogue's content, checksums, disk space, progress
lines, the RAM fit rule, name lookup, the one-pull-at-a-time lock. Downloads here go to the fake
hub on loopback (tests/fakehub.py) with small files; the real-model runs are tests/e2e/test_models_pull.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.fakehub import FakeHub
from voicecli.catalog import fetch
from voicecli.catalog.download import download
from voicecli.catalog.fit import fit, ram_need_mb
from voicecli.catalog.probe import Probe
from voicecli.catalog.resolve import ManifestEntry, ModelResolver, load_manifest
from voicecli.cli.pull import LineProgress, find_entry
from voicecli.errors import DownloadError, ModelNotFoundError


def test_catalogue_has_the_promised_models_with_their_facts():
    manifest = load_manifest()
    assert len({(e.kind, e.name) for e in manifest}) == len(manifest)
    by_name = {e.name: e for e in manifest}
    for name in ("base", "small", "distil-small.en", "large-v3-turbo"):
        assert by_name[name].kind == "stt" and by_name[name].hub and by_name[name].size_mb
    llms = [e for e in manifest if e.kind == "llm" and e.name != "smollm2-135m"]
    assert len(llms) >= 8
    for e in llms:
        assert e.hub and e.hub_file and e.hub_file.lower().endswith("q4_k_m.gguf"), e
        assert e.license and e.size_mb and e.languages, e
    assert {e.name for e in llms if e.tools} >= {"qwen2.5-1.5b", "llama-3.2-3b", "phi-4-mini"}
    voices = [e for e in manifest if e.kind == "tts"]
    assert {e.languages[0].split("_")[0] for e in voices} >= {"en", "pl", "ar", "de", "es", "fr"}
    for e in voices:
        lang, region = e.languages[0].split("_")
        assert e.hub == "rhasspy/piper-voices" and e.hub_file == (
            f"{lang}/{lang}_{region}/{e.name.split('-')[1]}/medium/{e.name}.onnx"), e
    assert all(e.sha256 is None or fetch.SHA256_RE.fullmatch(e.sha256) for e in manifest)


def test_extra_catalogue_adds_entries_and_a_bad_one_is_one_line(tmp_path, monkeypatch):
    extra = tmp_path / "more.toml"
    extra.write_text('[[model]]\nkind = "llm"\nname = "mine"\nhub = "me/mine"\nhub_file = "m.gguf"\n')
    monkeypatch.setenv("VOICECLI_EXTRA_CATALOG", str(extra))
    assert load_manifest()[-1] == ManifestEntry("llm", "mine", hub="me/mine", hub_file="m.gguf")
    extra.write_text('[[model]]\nkind = "llm"\nnam = "typo"\n')
    with pytest.raises(Exception, match=f"cannot read the model catalogue {extra}"):
        load_manifest()


def test_check_space_names_the_need_and_the_free_space(tmp_path):
    fetch.check_space(10, tmp_path / "not" / "yet", free=10)
    with pytest.raises(DownloadError) as err:
        fetch.check_space(2_500_000_000, tmp_path / "models", free=400_000_000)
    assert err.value.one_line() == (f"not enough disk space in {tmp_path / 'models'}: the download needs 2.5 GB, "
                                    "400.0 MB is free (free some space, or point XDG_DATA_HOME at a bigger disk)")


def hub_file(path: Path, etag: str | None) -> fetch.HubFile:
    return fetch.HubFile("org/repo", "sub/" + path.name, "http://unused", path.stat().st_size, etag)


def test_verify_accepts_the_hub_sha256_or_git_sha1_and_removes_a_mismatch(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"weights" * 1000)
    sha256 = hashlib.sha256(f.read_bytes()).hexdigest()
    git_sha1 = hashlib.sha1(b"blob %d\0" % f.stat().st_size + f.read_bytes()).hexdigest()
    fetch.verify(f, hub_file(f, sha256), "m", None)
    fetch.verify(f, hub_file(f, git_sha1), "m", sha256)
    with pytest.raises(DownloadError) as err:
        fetch.verify(f, hub_file(f, git_sha1), "m", "ab" * 32)
    assert "does not match the catalogue's SHA-256 abababababababab" in err.value.message
    assert err.value.hint == "run `voicecli models pull m` again" and not f.exists()
    f.write_bytes(b"x")
    with pytest.raises(DownloadError, match="does not match the hub's SHA-256"):
        fetch.verify(f, fetch.HubFile("org/repo", "x", "http://unused", 1, sha256), "m", None)


def test_remaining_bytes_counts_what_an_earlier_run_left(tmp_path):
    f = fetch.HubFile("org/repo", "a/b.gguf", "http://unused", 1000, "e" * 64)
    assert fetch.remaining_bytes(tmp_path, f) == 1000
    fetch.partial_path(tmp_path, f).write_bytes(b"\0" * 300)
    assert fetch.remaining_bytes(tmp_path, f) == 700
    fetch.done_path(tmp_path, f).write_bytes(b"\0" * 1000)
    assert fetch.remaining_bytes(tmp_path, f) == 0


def test_line_progress_prints_each_quarter_once(capsys):
    p = LineProgress()
    p.start("m: f.gguf", 4_000_000, 1_500_000)
    for _ in range(25):
        p.advance(100_000)
    p.finish()
    assert capsys.readouterr().err.splitlines() == [
        "m: f.gguf: downloading 4.0 MB, resuming at 1.5 MB", "m: f.gguf: 50% (2.0 MB of 4.0 MB)",
        "m: f.gguf: 75% (3.0 MB of 4.0 MB)", "m: f.gguf: 100% (4.0 MB of 4.0 MB)"]


@pytest.mark.parametrize("size_mb,ram_mb,verdict", [(500, 8000, "yes"), (2500, 4000, "tight"),
                                                    (2500, 3000, "no"), (None, 8000, "?"), (500, None, "?")])
def test_fit_rule(size_mb, ram_mb, verdict):
    entry = ManifestEntry("llm", "x", size_mb=size_mb)
    assert fit(entry, ram_mb).verdict == verdict
    assert ram_need_mb(ManifestEntry("llm", "x", size_mb=1000)) == 1500


def test_find_entry_suggests_a_close_name_and_takes_a_whisper_hub_id():
    res = ModelResolver([], manifest=load_manifest())
    assert find_entry(res, "phi-4-mini", None).hub_file == "microsoft_Phi-4-mini-instruct-Q4_K_M.gguf"
    assert find_entry(res, "org/faster-whisper-x", None) == ManifestEntry("stt", "org/faster-whisper-x",
                                                                          hub="org/faster-whisper-x")
    with pytest.raises(ModelNotFoundError) as err:
        find_entry(res, "gemma3-4b", None)
    assert err.value.one_line() == ("no model 'gemma3-4b' in the catalogue (did you mean gemma-3-4b? "
                                    "`voicecli models --available` lists them)")


@pytest.fixture
def small_hub(tmp_path, monkeypatch):
    model = tmp_path / "served.gguf"
    model.write_bytes(bytes(range(256)) * 8000)  # 2 MB: an "LFS" file
    with FakeHub({"org/repo": {"m.gguf": model}}) as hub:
        # what HF_ENDPOINT does when set before huggingface_hub is imported (as the CLI's tests do)
        monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", hub.url)
        monkeypatch.setattr("huggingface_hub.constants.HUGGINGFACE_CO_URL_TEMPLATE",
                            hub.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
        yield hub, model


def test_no_byte_is_fetched_without_the_disk_space(small_hub, tmp_path, monkeypatch):
    hub, _ = small_hub
    monkeypatch.setattr(fetch.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    with pytest.raises(DownloadError, match=r"the download needs 2.0 MB, 1.0 KB is free"):
        download("llm", "org/repo", "m.gguf", tmp_path / "models", "m")
    assert [m for m, p in hub.requests if "/resolve/" in p] == ["HEAD"] and not (tmp_path / "models" / "m.gguf").exists()


def test_one_pull_of_a_model_at_a_time(small_hub, tmp_path):
    from filelock import FileLock

    root = tmp_path / "models"
    root.mkdir()
    with FileLock(root / ".m.lock"), pytest.raises(DownloadError, match="m is being downloaded by another voicecli"):
        download("llm", "org/repo", "m.gguf", root, "m")
    path = download("llm", "org/repo", "m.gguf", root, "m", sha256=hashlib.sha256(small_hub[1].read_bytes()).hexdigest())
    assert path == root / "m.gguf" and path.read_bytes() == small_hub[1].read_bytes()
    assert sorted(p.name for p in root.iterdir()) == ["m.gguf"]


def test_probe_scales_the_measured_rate_by_size():
    speed = Probe("small-one", 100_000_000, 50.0)
    assert speed.estimate(ManifestEntry("llm", "small-one", size_mb=145)) == 50.0  # its own rate, measured
    assert speed.estimate(ManifestEntry("llm", "big", size_mb=2000)) == pytest.approx(2.5)
    assert speed.estimate(ManifestEntry("stt", "small", size_mb=486)) is None
    assert speed.estimate(ManifestEntry("llm", "unknown-size")) is None


def test_a_partial_of_an_older_version_is_dropped_but_not_a_neighbours(small_hub, tmp_path):
    hub, model = small_hub
    root = tmp_path / "models"
    staging = root / ".m.partial"
    staging.mkdir(parents=True)
    (staging / "m.gguf.0123456789abcdef.incomplete").write_bytes(b"old version")
    neighbour = staging / "m.gguf.json.fedcba9876543210.incomplete"
    neighbour.write_bytes(b"{")
    f = fetch.describe("org/repo", "m.gguf")
    fetch.partial_path(staging, f).write_bytes(model.read_bytes()[:1000])
    with fetch.hub_errors("org/repo"):
        done = fetch.fetch(f, staging, "m")
    assert done.read_bytes() == model.read_bytes() and hub.ranges == ["bytes=1000-"]
    assert sorted(p.name for p in staging.iterdir()) == ["m.gguf", neighbour.name]
