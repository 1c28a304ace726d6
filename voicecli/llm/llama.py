"""llama.cpp in-process through llama-cpp-python."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from voicecli.errors import ModelLoadError
from voicecli.llm.types import ChatMessage, GenerationOptions


def _disable_extra_buffer_types() -> None:
    """Belt and braces for builds compiled with AMX kernels: those crash on CPUs that advertise
    AMX without usable tiles (this project's CI machines). Our Makefile builds without AMX; a
    user's own native build is made safe by not selecting the extra (AMX) buffer types."""
    import llama_cpp
    import llama_cpp.llama as llama_mod

    original = llama_cpp.llama_model_default_params
    if getattr(original, "_voicecli_patched", False):
        return

    def params() -> Any:
        p = original()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    setattr(params, "_voicecli_patched", True)  # noqa: B010 - a marker on a function object
    llama_mod.llama_cpp.llama_model_default_params = params


class LlamaChat:
    """One loaded GGUF model. Calls are serialised (llama.cpp contexts are not thread-safe);
    consecutive calls reuse the KV cache for the shared prompt prefix (the system prompt)."""

    def __init__(self, model_path: str, name: str, threads: int = 2, context_tokens: int = 2048) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelLoadError("llama-cpp-python is not installed",
                                 "run `make demo` or pip install llama-cpp-python") from exc
        _disable_extra_buffer_types()
        self.name = name
        try:
            self._llm = llama_cpp.Llama(model_path=model_path, n_ctx=context_tokens, n_threads=threads,
                                        n_threads_batch=threads, n_batch=256, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"cannot load GGUF model '{name}' from {model_path}: {exc}",
                                 "check the file or pick another with --llm-model") from exc
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        with self._lock:
            chunks = self._llm.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                max_tokens=options.max_tokens, temperature=options.temperature,
                stop=list(options.stop) or None, stream=True)
            try:
                for chunk in chunks:
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        yield delta
            finally:
                close = getattr(chunks, "close", None)
                if close:
                    close()

    def warm_up(self, system_prompt: str) -> None:
        """Evaluate the system prompt once so the first real reply starts from a warm cache."""
        for _ in self.stream([ChatMessage("system", system_prompt), ChatMessage("user", "Hi")],
                             GenerationOptions(max_tokens=2, temperature=0.0)):
            pass
