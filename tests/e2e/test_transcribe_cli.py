"""`voicecli transcribe` as a user runs it (a subprocess), on real audio files.

Bad inputs fail before any model loads, so those cases are fast; the rest share one model load
per command run (several files per run where possible)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.helpers import ROOT, VOICECLI, concat_wavs, run_voicecli, write_wav

JFK_WORDS = ("ask not what your country can do for you", "ask what you can do for your country")

# (suffix, container, codec, sample rate): every container the issue names.
CONTAINERS = [
    ("flac", "flac", "flac", 16000),
    ("mp3", "mp3", "libmp3lame", 44100),
    ("ogg", "ogg", "libopus", 48000),
    ("webm", "webm", "libopus", 48000),
    ("m4a", "ipod", "aac", 44100),
    ("mp4", "mp4", "aac", 44100),
]


def _encode(src: np.ndarray, path: Path, container: str, codec: str, rate: int) -> Path:
    out = av.open(str(path), "w", format=container)
    stream = out.add_stream(codec, rate=rate)
    stream.layout = "mono"
    frame = av.AudioFrame.from_ndarray((np.clip(src, -1, 1) * 32767).astype("<i2").reshape(1, -1),
                                       format="s16", layout="mono")
    frame.sample_rate = 16000
    for packet in stream.encode(frame):
        out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory, speech_dir) -> dict[str, Path]:
    """jfk (11 s) as wav, a 5.9 s clip in every container, a short clip, and every kind of bad input."""
    from voicecli.audio.decode import decode_audio

    d = tmp_path_factory.mktemp("media")
    jfk = d / "jfk.wav"
    jfk.write_bytes((speech_dir / "en_jfk_inaugural.wav").read_bytes())
    files = {"wav": jfk}
    files["quilter"] = d / "quilter.wav"
    files["quilter"].write_bytes((speech_dir / "en_librispeech_1272-128104-0000.wav").read_bytes())
    samples = decode_audio(files["quilter"])
    for suffix, container, codec, rate in CONTAINERS:
        files[suffix] = _encode(samples, d / f"quilter_{suffix}.{suffix}", container, codec, rate)
    files["short"] = d / "one_two_three.wav"
    files["short"].write_bytes((speech_dir / "en_one_two_three.wav").read_bytes())
    files["missing"] = d / "missing.wav"
    files["directory"] = d / "a_directory"
    files["directory"].mkdir()
    files["empty"] = d / "empty.wav"
    files["empty"].write_bytes(b"")
    files["not_audio"] = d / "notes.mp3"
    files["not_audio"].write_text("these are meeting notes, not audio\n")
    files["truncated"] = d / "truncated.wav"  # the RIFF header survived, the samples did not
    files["truncated"].write_bytes(files["quilter"].read_bytes()[:44])
    files["truncated_m4a"] = d / "truncated.m4a"  # cut in half: the index (moov) is gone
    data = files["m4a"].read_bytes()
    files["truncated_m4a"].write_bytes(data[: len(data) // 2])
    files["corrupt"] = d / "corrupt.flac"  # a real FLAC header followed by garbage
    rng = np.random.default_rng(7)
    files["corrupt"].write_bytes(files["flac"].read_bytes()[:2000] + rng.bytes(60_000))
    files["silence"] = write_wav(d / "silence.wav", np.zeros(16000 * 4, np.float32))
    files["long"] = concat_wavs(d / "long.wav", jfk, 1.0, jfk, 1.0, jfk)  # 35 s: more than one 30 s window
    return files


def _digits(text: str) -> list[str]:
    """tiny.en writes "one two three" as "1, 2, 3."; accept either spelling."""
    names = {"one": "1", "two": "2", "three": "3"}
    return [names.get(w, w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


# ------------------------------------------------------------------ bad inputs (no model load)

BAD_INPUTS = [
    ("missing", "no such file"),
    ("directory", "is a directory, not an audio file"),
    ("empty", "file is empty"),
    ("not_audio", "not an audio file ffmpeg can read"),
    ("truncated", "contains no audio samples"),
    ("truncated_m4a", "not an audio file ffmpeg can read"),
    ("corrupt", "contains no audio samples"),
]


@pytest.mark.parametrize("case,message", BAD_INPUTS)
def test_bad_input_gets_one_clear_line_and_exit_1(media, case, message):
    path = media[case]
    r = run_voicecli("transcribe", str(path))
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {path}: {message}"), lines[0]
    assert r.stdout == ""
    _no_traceback(r.stderr)


def test_verbose_shows_the_traceback_of_a_bad_input(media):
    r = run_voicecli("transcribe", "--verbose", str(media["not_audio"]))
    assert r.returncode == 1
    assert "Traceback" in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {media['not_audio']}: not an audio file ffmpeg can read"), last


def test_stdin_with_no_data_is_an_error(media):
    r = subprocess.run([*VOICECLI, "transcribe", "-"], input=b"", capture_output=True, cwd=ROOT, timeout=120,
                       check=False)
    assert r.returncode == 1
    assert r.stderr.decode().strip() == "error: <stdin>: no data (empty input) (pipe some audio in)"


@pytest.mark.models
def test_silence_only_is_no_speech_found(media):
    r = run_voicecli("transcribe", str(media["silence"]))
    assert r.returncode == 1, r.stdout
    assert r.stderr.strip().splitlines() == [
        f"error: {media['silence']}: no speech found (the audio decodes but holds only silence or noise)"]
    assert r.stdout == ""


@pytest.mark.models
def test_bad_inputs_do_not_stop_the_good_ones(media, tmp_path):
    bad = [media[case] for case, _ in BAD_INPUTS] + [media["silence"]]
    inputs = [media["short"], *bad, media["wav"]]
    out = tmp_path / "out"
    r = run_voicecli("transcribe", *map(str, inputs), "--output-dir", str(out), "--format", "txt")
    assert r.returncode == 1
    _no_traceback(r.stderr)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(bad) + 1, r.stderr  # one per bad input, then the summary
    for path, line in zip(bad, errors, strict=False):
        assert line.startswith(f"error: {path}: "), line
    assert errors[-1] == f"error: {len(bad)} of {len(inputs)} inputs failed"
    assert sorted(p.name for p in out.iterdir()) == ["jfk.txt", "one_two_three.txt"]
    assert all(w in (out / "jfk.txt").read_text().lower() for w in JFK_WORDS)
    assert _digits((out / "one_two_three.txt").read_text()) == ["1", "2", "3"]


# ------------------------------------------------------------------ outputs

@pytest.mark.models
def test_one_file_to_stdout_without_progress_when_not_a_tty(media):
    r = run_voicecli("transcribe", str(media["wav"]))
    assert r.returncode == 0, r.stderr
    assert all(w in r.stdout.lower() for w in JFK_WORDS), r.stdout
    assert r.stderr == ""  # no progress bar, no status line: stderr is not a terminal


@pytest.mark.models
def test_every_container_format_decodes_and_transcribes(media, tmp_path):
    inputs = [media["quilter"]] + [media[s] for s, *_ in CONTAINERS]
    r = run_voicecli("transcribe", *map(str, inputs), "-o", str(tmp_path), "-f", "json", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # --quiet: no status lines
    for p in inputs:
        doc = json.loads((tmp_path / f"{p.stem}.json").read_text())
        assert doc["language"] == "en"
        assert abs(doc["duration"] - 5.86) < 0.2, (p.name, doc["duration"])
        assert "apostle of the middle classes" in doc["text"].lower(), (p.name, doc["text"])


@pytest.mark.models
def test_stdin_dash_reads_audio_bytes(media):
    r = subprocess.run([*VOICECLI, "transcribe", "-", "-f", "json"], input=media["mp3"].read_bytes(),
                       capture_output=True, cwd=ROOT, timeout=300, check=False)
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads(r.stdout)
    assert "apostle of the middle classes" in doc["text"].lower()


@pytest.mark.models
def test_format_all_writes_every_format(media, tmp_path):
    r = run_voicecli("transcribe", str(media["wav"]), "--format", "all", "--output-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jfk.json", "jfk.srt", "jfk.tsv", "jfk.txt", "jfk.vtt"]
    srt = (tmp_path / "jfk.srt").read_text()
    assert re.match(r"1\n00:00:0\d,\d{3} --> 00:00:\d\d,\d{3}\n\S", srt), srt
    vtt = (tmp_path / "jfk.vtt").read_text()
    assert re.match(r"WEBVTT\n\n00:00:0\d\.\d{3} --> 00:00:\d\d\.\d{3}\n\S", vtt), vtt
    tsv = (tmp_path / "jfk.tsv").read_text().splitlines()
    assert tsv[0] == "start\tend\ttext"
    start, end, text = tsv[1].split("\t")
    assert 0 <= int(start) < int(end) <= 11_100 and text
    doc = json.loads((tmp_path / "jfk.json").read_text())
    assert set(doc) >= {"text", "language", "duration", "segments"}
    assert all(set(s) >= {"start", "end", "text"} and "words" not in s for s in doc["segments"])
    assert (tmp_path / "jfk.txt").read_text().strip().splitlines() == [s["text"] for s in doc["segments"]]
    assert "jfk.wav → " in r.stderr and "(en, 11.0 s of audio in" in r.stderr


@pytest.mark.models
def test_word_timestamps_in_json(media):
    r = run_voicecli("transcribe", str(media["short"]), "-f", "json", "--word-timestamps")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    words = [w for s in doc["segments"] for w in s["words"]]
    assert _digits(" ".join(w["word"] for w in words)) == ["1", "2", "3"]
    assert all(0 <= w["start"] <= w["end"] <= doc["duration"] + 0.05 for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)


@pytest.mark.models
def test_several_files_to_stdout_are_labelled(media):
    r = run_voicecli("transcribe", str(media["short"]), str(media["quilter"]))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"==> {media['short']} <==\n")
    assert f"\n==> {media['quilter']} <==\nMr. Quilter" in r.stdout
    r = run_voicecli("transcribe", str(media["short"]), str(media["quilter"]), "-f", "json")
    docs = [json.loads(line) for line in r.stdout.splitlines()]  # JSON Lines
    assert [d["file"] for d in docs] == [str(media["short"]), str(media["quilter"])]


def test_format_all_needs_an_output_dir(media):
    r = run_voicecli("transcribe", str(media["wav"]), "--format", "all")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: --format all writes one file per format (add --output-dir DIR)"


# ------------------------------------------------------------------ options

@pytest.mark.models
def test_batched_vad_and_beam_on_a_long_file(media):
    r = run_voicecli("transcribe", str(media["long"]), "--batched", "--beam-size", "2", "-f", "json",
                     "--compute-type", "int8", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert abs(doc["duration"] - 35.0) < 0.3
    assert doc["text"].lower().count("ask not what your country") == 3, doc["text"]


@pytest.mark.models
def test_english_only_model_refuses_another_language(media):
    r = run_voicecli("transcribe", str(media["short"]), "--language", "de")
    assert r.returncode == 2
    assert "model 'tiny.en' is English-only and cannot transcribe 'de'" in r.stderr
    _no_traceback(r.stderr)


@pytest.mark.models
def test_multilingual_model_detects_language(speech_dir, tmp_path):
    r = run_voicecli("transcribe", str(speech_dir / "de_leopard_test.wav"), "--model", "base", "-f", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["language"] == "de" and "leichenhal" in doc["text"].lower()


def test_unknown_model_is_one_line(media):
    r = run_voicecli("transcribe", str(media["short"]), "--model", "no-such-model")
    assert r.returncode == 1
    assert r.stderr.startswith("error: stt model 'no-such-model' not found")
    _no_traceback(r.stderr)


def test_env_and_flag_precedence_reaches_the_command(media):
    # VOICECLI_STT_BEAM_SIZE is validated before any model loads; the flag wins over the env.
    r = run_voicecli("transcribe", str(media["missing"]), env={"VOICECLI_STT_BEAM_SIZE": "99"})
    assert r.returncode == 2 and "VOICECLI_STT_BEAM_SIZE" in r.stderr
    r = run_voicecli("transcribe", str(media["missing"]), "--beam-size", "2", env={"VOICECLI_STT_BEAM_SIZE": "99"})
    assert r.returncode == 1 and "no such file" in r.stderr


# ------------------------------------------------------------------ progress bar on a terminal

def _run_with_tty_stderr(*args: str, timeout_s: float = 120) -> tuple[int, str]:
    """Run voicecli with stderr on a pseudo-terminal (stdout piped); return (code, what the
    terminal showed)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([*VOICECLI, *args], stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, env=env)
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    return proc.returncode, shown.decode(errors="replace")


@pytest.mark.models
def test_progress_bar_on_a_terminal_and_not_with_quiet(media):
    code, shown = _run_with_tty_stderr("transcribe", str(media["wav"]))
    assert code == 0, shown
    assert "s of audio" in shown and "jfk.wav" in shown, shown
    code, shown = _run_with_tty_stderr("transcribe", "--quiet", str(media["wav"]))
    assert code == 0
    assert "s of audio" not in shown and "loading model" not in shown, shown
