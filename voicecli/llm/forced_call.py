"""A forced tool call (``tool_choice`` required or named) for a local model: the grammar that
makes the model write ``{"name": "<one of the candidates>", "arguments": <valid arguments>}``,
and the decoder that turns that text, as it streams, into :class:`ToolCallDelta`\\ s.

The text the grammar leaves no choice about goes into the prompt instead (``prefix``: with one
candidate, everything up to the arguments), so the model only spends tokens on real choices.
Grammars are built once per set of candidates (an LRU cache; a :class:`ToolSpec` is hashable)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from voicecli.llm.json_grammar import GrammarBuilder, UnsupportedSchema, gbnf_literal
from voicecli.llm.tools import ToolCallDelta, ToolSchemaError, ToolSpec

CALL_START = '{"name": "'
ARGUMENTS_AFTER_NAME = '", "arguments": '


def call_header(name: str) -> str:
    """What the model writes before a call's arguments (names are ``[a-zA-Z0-9_-]``)."""
    return CALL_START + name + ARGUMENTS_AFTER_NAME


@dataclass(frozen=True)
class ForcedCallGrammar:
    prefix: str
    """Text appended to the prompt: the model continues from it."""
    gbnf: str
    """The grammar for the rest of the call."""
    names: tuple[str, ...]


@functools.lru_cache(maxsize=64)
def forced_call_grammar(candidates: tuple[ToolSpec, ...]) -> ForcedCallGrammar:
    """The grammar for a call to one of ``candidates``; raises :class:`ToolSchemaError` if a
    schema cannot be enforced."""
    if not candidates:
        raise ValueError("a forced call needs at least one candidate tool")
    builder = GrammarBuilder()
    args: list[str] = []
    for i, spec in enumerate(candidates):
        try:
            args.append(builder.add(spec.parameters, f"t{i}"))
        except UnsupportedSchema as exc:
            raise ToolSchemaError(spec.name, f"parameters {exc}") from None
    try:
        if len(candidates) == 1:
            return ForcedCallGrammar(call_header(candidates[0].name), builder.grammar(f'{args[0]} "}}"'),
                                     (candidates[0].name,))
        alternatives = " | ".join(f"{gbnf_literal(spec.name + ARGUMENTS_AFTER_NAME)} {rule}"
                                  for spec, rule in zip(candidates, args, strict=True))
        return ForcedCallGrammar(CALL_START, builder.grammar(f'( {alternatives} ) "}}"'),
                                 tuple(s.name for s in candidates))
    except UnsupportedSchema as exc:
        raise ToolSchemaError(candidates[0].name if len(candidates) == 1 else "(all)", str(exc)) from None


class ForcedCallDecoder:
    """Generated text (after the grammar's prefix) → deltas of call number 0. The name is known
    once its header is complete; argument text streams with one character held back, the
    wrapper's closing brace, which :meth:`finish` drops."""

    def __init__(self, grammar: ForcedCallGrammar, call_id: str) -> None:
        self._grammar = grammar
        self._call_id = call_id
        self._head = grammar.prefix
        self._pending: str | None = None  # None until the name is known
        self.name: str | None = None

    def feed(self, piece: str) -> list[ToolCallDelta]:
        if self._pending is None:
            self._head += piece
            for name in self._grammar.names:
                header = call_header(name)
                if self._head.startswith(header):
                    self.name, self._pending = name, ""
                    return [ToolCallDelta(0, "", self._call_id, name), *self._arguments(self._head[len(header):])]
            return []
        return self._arguments(piece)

    def _arguments(self, piece: str) -> list[ToolCallDelta]:
        text = (self._pending or "") + piece
        self._pending = text[-1:]
        return [ToolCallDelta(0, text[:-1])] if len(text) > 1 else []

    def finish(self, complete: bool) -> list[ToolCallDelta]:
        """The held-back text: the wrapper's closing brace when the grammar completed (dropped),
        else the last character of arguments cut short by the token limit."""
        if not self._pending or complete:
            return []
        return [ToolCallDelta(0, self._pending)]
