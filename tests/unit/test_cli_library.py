"""Library helpers the CLI commands call: the config listing, the history path, the doctor's
config check and the bench comparison section. No models, no devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecli.config import HistoryConfig, all_keys, explain, history_db_path, resolve


def test_explain_lists_every_key_and_masks_the_api_key(tmp_path):
    resolved = resolve({"stt.beam_size": 2}, env={"VOICECLI_LLM_API_KEY": "sk-secret"}, file=tmp_path / "none.toml")
    rows = {r.key: r for r in explain(resolved)}
    assert list(rows) == all_keys()
    assert rows["llm.api_key"].value == "***" and rows["llm.api_key"].source == "env (VOICECLI_LLM_API_KEY)"
    assert rows["stt.beam_size"].value == 2 and rows["stt.beam_size"].source == "cli"
    assert rows["stt.beam_size"].env == "VOICECLI_STT_BEAM_SIZE" and rows["stt.beam_size"].description


def test_explain_leaves_an_unset_api_key_empty(tmp_path):
    rows = {r.key: r for r in explain(resolve({}, env={}, file=tmp_path / "none.toml"))}
    assert rows["llm.api_key"].value is None


def test_history_db_path_prefers_the_setting(tmp_path):
    assert history_db_path(HistoryConfig(path=str(tmp_path / "h.db"))) == tmp_path / "h.db"
    assert history_db_path(HistoryConfig()).name == "history.sqlite3"


@pytest.mark.parametrize("text,status", [("", "ok"), ("[stt]\nbeam_size = 'wide'\n", "fail")])
def test_doctor_config_check_falls_back_to_defaults(tmp_path, monkeypatch, text, status):
    from voicecli.catalog.doctor import check_config

    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    monkeypatch.setenv("VOICECLI_CONFIG", str(cfg))
    check, settings = check_config()
    assert check.status == status and settings.stt.beam_size == 5  # the default (issue 10: beam 5 for files)


def test_comparison_json_keys_figures_by_their_path():
    from voicecli.bench.report import compare, comparison_json

    old = {"schema": 1, "vad": {"frame_ms_p50": 0.2}}
    new = {"schema": 1, "vad": {"frame_ms_p50": 0.1}}
    deltas, warnings = compare(old, new)
    section = comparison_json(deltas, warnings, against=str(Path("old.json")))
    assert section["against"] == "old.json" and section["figures"]["vad.frame_ms_p50"]["verdict"] == "better"
