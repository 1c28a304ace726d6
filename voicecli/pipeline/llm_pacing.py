"""When the LLM's thread may compute a reply's next token.

Until the first piece to speak is cut, the LLM goes in lockstep with the event loop: it computes
the next token only once the loop has taken the last one and found no piece in it yet. Running
free, the token in flight when the first piece is cut ran beside Piper's synthesis of that piece
and on two cores both slowed down (a trace on the device loop: 174 ms for a 1.9 s first piece
whose synthesis takes ~100 ms alone). From the cut until the first piece's audio is ready (and
its reply's gate is open) the LLM waits; after that it runs free. Each wait is bounded, so a
stalled loop never stalls the model for long."""

from __future__ import annotations

import threading


class LlmPacing:
    """Shared by the LLM's thread (:meth:`after_token`) and the event loop (the rest)."""

    def __init__(self, max_wait_s: float) -> None:
        self._max_wait_s = max_wait_s
        self._cv = threading.Condition()
        self._computed = 0
        """Tokens the LLM handed on."""
        self._taken = 0
        """Tokens the loop has taken."""
        self._lockstep = True
        self._held = False

    def after_token(self) -> None:
        """LLM thread, after handing on a token: wait until it may compute the next one."""
        with self._cv:
            self._computed += 1
            n = self._computed
            self._cv.wait_for(lambda: not self._held and (not self._lockstep or self._taken >= n),
                              timeout=self._max_wait_s)

    def token_taken(self, first_piece_cut: bool = False) -> None:
        """Loop: a token was taken; ``first_piece_cut``: it completed the first piece, so the LLM
        waits until :meth:`release` (the first audio is ready)."""
        with self._cv:
            self._taken += 1
            if first_piece_cut:
                self._held, self._lockstep = True, False
            self._cv.notify_all()

    def release(self) -> None:
        """Loop (or any thread): run free from now on."""
        with self._cv:
            self._held = self._lockstep = False
            self._cv.notify_all()
