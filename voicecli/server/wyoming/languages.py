"""Language codes as the Wyoming server uses them: Whisper's language list, ``en-US`` → ``en``,
locale keys for matching voices, and which languages an STT model or a Piper voice speaks.
(Kept apart so that it can move into one languages table shared by every server.)"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

_FALLBACK_WHISPER_LANGUAGES = ("en", "de", "es", "fr", "it", "ja", "ko", "nl", "pt", "ru", "zh")


def base_language(code: str | None) -> str | None:
    """``en-US``/``en_US``/``EN`` → ``en``."""
    if not code or not isinstance(code, str):
        return None
    return re.split(r"[-_]", code.strip().lower())[0] or None


def locale_key(code: str | None) -> str:
    """``en-US``/``en_us`` → ``en_us`` (compare locales whatever their spelling)."""
    return (code or "").strip().lower().replace("-", "_")


def whisper_languages() -> tuple[str, ...]:
    """Every language a multilingual Whisper model knows."""
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        return tuple(_LANGUAGE_CODES)
    except ImportError:  # pragma: no cover - mlx-only installs
        return _FALLBACK_WHISPER_LANGUAGES


def stt_languages(declared: tuple[str, ...], name: str, multilingual: bool | None) -> tuple[str, ...]:
    """What a Whisper model understands: all of Whisper's languages if it is multilingual (known,
    declared ``multi``, or a name without ``.en``), else its declared languages (or English)."""
    if multilingual is None:
        multilingual = "multi" in declared or (not declared and not name.endswith(".en"))
    if multilingual:
        return whisper_languages()
    return tuple(lang for lang in declared if lang != "multi") or ("en",)


def voice_languages(declared: tuple[str, ...], name: str, path: Path | None) -> tuple[str, ...]:
    """The manifest's languages; else the voice config's; else the Piper name (``en_US-joe-medium``)."""
    if declared:
        return declared
    if path is not None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            config = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
            code = (config.get("language") or {}).get("code")
            if isinstance(code, str) and code:
                return (code,)
    match = re.match(r"^([a-z]{2,3}_[A-Z]{2})-", name)
    return (match.group(1),) if match else ()
