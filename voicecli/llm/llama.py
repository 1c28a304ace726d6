"""llama.cpp in-process through llama-cpp-python: text replies, and tool calls (a forced call
generated under a JSON-schema grammar; ``auto`` through the model's own template when it
supports tools, otherwise a text answer)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from voicecli.cpu_share import other_load, threads_for
from voicecli.errors import ModelLoadError
from voicecli.llm.forced_call import ForcedCallDecoder, forced_call_grammar
from voicecli.llm.llama_prompt import ChatTemplate, Prompt
from voicecli.llm.tool_text import ToolTextParser
from voicecli.llm.tools import (
    FinishReason,
    ReplyDelta,
    ReplyEnded,
    TextDelta,
    ToolCallDelta,
    ToolRequest,
    ToolSchemaError,
    new_call_id,
    text_of,
)
from voicecli.llm.types import ChatMessage, GenerationOptions

PREFILL_BATCH = 4
"""Tokens evaluated at a time ahead of a reply: a reply that wants the model waits at most one
such batch (~30 ms on 2 cores)."""
_OPEN_END = "\x00"
"""Marks where the unfinished user message ends in a rendered prompt (cut off before prefilling)."""


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
    consecutive calls reuse the KV cache for the shared prompt prefix (the system prompt).

    Tools (:meth:`stream_reply`): ``required`` or a named ``tool_choice`` generates one call
    under a grammar built from the candidates' schemas, so its arguments always validate;
    ``auto`` offers the tools through the chat template when the template supports them and
    reads calls out of the reply (:mod:`voicecli.llm.tool_text`); with a template that does not
    (the bundled SmolLM2), ``auto`` and ``none`` answer in text without showing the tools."""

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
        self._wanted = 0
        self._wanted_lock = threading.Lock()
        """Replies waiting for the lock (a prefill stops for them)."""
        self._max_threads = self.threads = threads
        self._other_load = other_load()
        self.template = ChatTemplate.of_model(self._llm)
        self._parsed_grammars: set[str] = set()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        return text_of(self.stream_reply(messages, options))

    def stream_reply(self, messages: Sequence[ChatMessage], options: GenerationOptions,
                     tools: ToolRequest | None = None) -> Generator[ReplyDelta, None, None]:
        with self._wanted_lock:
            self._wanted += 1  # a prefill in progress gives way at its next batch
        try:
            self._lock.acquire()
        finally:
            with self._wanted_lock:
                self._wanted -= 1
        try:
            if tools is not None and tools.tools and tools.choice.forces_call:
                yield from self._forced_call(messages, options, tools)
            elif tools is not None and tools.tools and tools.choice.mode == "auto" and self.template.supports_tools:
                yield from self._text_or_calls(messages, options, tools)
            else:
                yield from self._text(self.template.render(messages), options)
        finally:
            self._lock.release()

    def prefill(self, messages: Sequence[ChatMessage], tools: ToolRequest | None = None,
                give_way: Callable[[], bool] | None = None) -> int:
        """Evaluate ahead of time the prompt the next reply will start with: ``messages`` end
        with the user's message as far as it is known (empty while they have not spoken; the
        words heard so far while they speak). Each prompt token costs ~7 ms of both cores for
        SmolLM2 here, and the user's pause is the scarce time: what is evaluated now is reused
        by the reply's prompt through llama.cpp's prefix cache, and whatever the final words
        change is simply evaluated again. Gives way between small batches to a reply that wants
        the model, or when ``give_way()`` says other work needs the cores. ``tools``: those the
        reply will be offered (they may change its prompt). Returns the tokens evaluated."""
        if not messages or messages[-1].role != "user" or (tools is not None and tools.choice.forces_call):
            return 0
        *before, last = messages
        native = tools is not None and tools.choice.mode == "auto" and self.template.supports_tools
        offered = tools.tools if native and tools is not None else ()
        prompt = self.template.render([*before, ChatMessage("user", last.content + _OPEN_END)], offered)
        end = prompt.text.rfind(_OPEN_END)
        if end < 0:
            return 0
        tokens = self._llm.tokenize(prompt.text[:end].encode("utf-8"), add_bos=prompt.add_bos, special=True)
        tokens = tokens[:-1]  # the last word may still grow
        done = 0
        with self._lock:
            llm = self._llm
            cached = llm.n_tokens
            common = 0
            for a, b in zip(llm.input_ids[:cached], tokens, strict=False):
                if a != b:
                    break
                common += 1
        while common + done < len(tokens):
            if self._wanted or (give_way is not None and give_way()):
                break
            with self._lock:
                if self._llm.n_tokens != (cached if done == 0 else common + done):
                    break  # a reply used the context meanwhile
                self._fit_threads()
                batch = tokens[common + done: common + done + PREFILL_BATCH]
                # The cache is cut back only together with an evaluation: cut alone, it would end
                # on a token whose logits are not the ones held, and llama-cpp-python samples a
                # prompt that ends exactly there from those (an empty or wrong reply).
                self._llm.n_tokens = common + done
                self._llm.eval(batch)
                done += len(batch)
        return done

    def _text(self, prompt: Prompt, options: GenerationOptions) -> Iterator[ReplyDelta]:
        count, reason = 0, "stop"
        for piece, finished in self._generate(prompt, options, stop=(*prompt.stop, *options.stop)):
            count, reason = count + bool(piece), finished or reason
            if piece:
                yield TextDelta(piece)
        yield ReplyEnded("length" if reason == "length" else "stop", count)

    def _text_or_calls(self, messages: Sequence[ChatMessage], options: GenerationOptions,
                       tools: ToolRequest) -> Iterator[ReplyDelta]:
        prompt = self.template.render(messages, tools.tools)
        parser = ToolTextParser({t.name for t in tools.tools})
        count, reason = 0, "stop"
        for piece, finished in self._generate(prompt, options, stop=(*prompt.stop, *options.stop)):
            count, reason = count + bool(piece), finished or reason
            yield from parser.feed(piece)
        tail = parser.finish()
        yield from tail
        called = any(isinstance(e, ToolCallDelta) for e in tail)
        yield ReplyEnded("tool_calls" if called else "length" if reason == "length" else "stop", count)

    def _forced_call(self, messages: Sequence[ChatMessage], options: GenerationOptions,
                     tools: ToolRequest) -> Iterator[ReplyDelta]:
        candidates = tools.candidates()
        grammar = forced_call_grammar(candidates)
        self._check_grammar(grammar.gbnf)
        prompt = self.template.render(messages, candidates, describe_tools=True)
        decoder = ForcedCallDecoder(grammar, new_call_id())
        from llama_cpp.llama_grammar import LlamaGrammar

        count, reason = 0, "stop"
        for piece, finished in self._generate(Prompt(prompt.text + grammar.prefix, (), prompt.add_bos), options,
                                              stop=(), grammar=LlamaGrammar.from_string(grammar.gbnf, verbose=False)):
            count, reason = count + bool(piece), finished or reason
            yield from decoder.feed(piece)
        complete = reason != "length"
        yield from decoder.finish(complete)
        finish: FinishReason = "tool_calls" if complete and decoder.name else "length"
        yield ReplyEnded(finish, count)

    def _check_grammar(self, gbnf: str) -> None:
        """Parse a grammar once before generating with it: llama-cpp-python does not check the
        result of llama.cpp's parser, and a grammar it rejects crashes the process."""
        if gbnf in self._parsed_grammars:
            return
        import llama_cpp

        vocab = getattr(getattr(self._llm, "_model", None), "vocab", None)
        if vocab is not None:
            sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
            if not sampler:
                raise ToolSchemaError("(all)", "llama.cpp could not parse the grammar built from the schema")
            llama_cpp.llama_sampler_free(sampler)
        self._parsed_grammars.add(gbnf)

    def _generate(self, prompt: Prompt, options: GenerationOptions, stop: tuple[str, ...],
                  grammar: Any = None) -> Iterator[tuple[str, str | None]]:
        """(text piece, finish reason or None) per generated token."""
        self._fit_threads()
        tokens = self._llm.tokenize(prompt.text.encode("utf-8"), add_bos=prompt.add_bos, special=True)
        chunks = self._llm.create_completion(tokens, max_tokens=options.max_tokens, temperature=options.temperature,
                                             stop=list(stop) or None, stream=True, grammar=grammar)
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                yield choice["text"], choice["finish_reason"]
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    def _fit_threads(self) -> None:
        """Use only the cores other programs leave free (see :mod:`voicecli.cpu_share`)."""
        n = threads_for(self._max_threads, os.cpu_count() or self._max_threads, self._other_load.cores())
        if n != self.threads:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self._llm.ctx, n, n)
            self.threads = n

    def warm_up(self, system_prompt: str) -> None:
        """Evaluate the system prompt once so the first real reply starts from a warm cache."""
        for _ in self.stream([ChatMessage("system", system_prompt), ChatMessage("user", "Hi")],
                             GenerationOptions(max_tokens=2, temperature=0.0)):
            pass
