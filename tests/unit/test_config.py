from pathlib import Path

import pytest

from voicecli.config import all_keys, env_name, resolve
from voicecli.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_defaults(tmp_path):
    r = resolve({}, env={}, file=tmp_path / "missing.toml")
    assert r.settings.stt.model == "tiny.en"
    assert all(v == "default" for v in r.sources.values())


@pytest.mark.parametrize("file_val,env_val,cli_val,expected,source", [
    (None, None, None, 5, "default"),  # files default to Whisper's beam 5 (issue 10)
    (3, None, None, 3, "file"),
    (3, "4", None, 4, "env"),
    (3, "4", 5, 5, "cli"),
    (None, None, 5, 5, "cli"),
])
def test_precedence(tmp_path, file_val, env_val, cli_val, expected, source):
    f = write(tmp_path, f"[stt]\nbeam_size = {file_val}\n" if file_val else "")
    env = {"VOICECLI_STT_BEAM_SIZE": env_val} if env_val else {}
    r = resolve({"stt.beam_size": cli_val}, env=env, file=f)
    assert r.settings.stt.beam_size == expected
    assert r.sources["stt.beam_size"].startswith(source)


def test_env_bool_and_float(tmp_path):
    r = resolve({}, env={"VOICECLI_MODELS_ALLOW_DOWNLOAD": "true", "VOICECLI_TTS_SPEED": "1.5"},
                file=tmp_path / "none.toml")
    assert r.settings.models.allow_download is True
    assert r.settings.tts.speed == 1.5


@pytest.mark.parametrize("text,message", [
    ("[stt\n", "not valid TOML"),
    ("[nope]\nx = 1\n", "unknown section"),
    ("[stt]\nbogus = 1\n", "unknown setting 'stt.bogus'"),
    ("[stt]\nbeam_size = 'wide'\n", "invalid value for stt.beam_size"),
])
def test_bad_config_file(tmp_path, text, message):
    with pytest.raises(ConfigError) as e:
        resolve({}, env={}, file=write(tmp_path, text))
    assert message in e.value.one_line()


def test_bad_env_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as e:
        resolve({}, env={"VOICECLI_VAD_THRESHOLD": "2"}, file=tmp_path / "none.toml")
    assert "VOICECLI_VAD_THRESHOLD" in e.value.one_line()


def test_every_key_has_env_name_and_doc():
    from voicecli.config import describe

    for k in all_keys():
        assert env_name(k).startswith("VOICECLI_")
        assert describe(k), k
