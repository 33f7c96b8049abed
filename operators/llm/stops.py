"""Stop strings over streamed text: tokens and stop strings need not line up.

A stop string can begin in one token and end in the next, so text that could still turn out
to be the start of a stop string is held back until the following text settles it. Only
the shortest tail that might be such a start is held, so the stream stays as live as
possible.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["StopMatcher"]


class StopMatcher:
    """Feed decoded text in; get back the text that is safe to emit.

    >>> m = StopMatcher(["\\nUser:"])
    >>> m.feed("Hi!\\nUs")
    ('Hi!', False)
    >>> m.feed("er: next")
    ('', True)
    """

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = [s for s in stops if s]
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> tuple[str, bool]:
        """Text now safe to emit, and whether a stop string has been reached.

        Once a stop string is found, it and everything after it are dropped for good.
        """
        if self.stopped:
            return "", True
        buffer = self._held + text
        if not self.stops:
            self._held = ""
            return buffer, False
        cut = min((i for s in self.stops if (i := buffer.find(s)) >= 0), default=-1)
        if cut >= 0:
            self._held = ""
            self.stopped = True
            return buffer[:cut], True
        keep = self._partial_tail(buffer)
        self._held = buffer[len(buffer) - keep :]
        return buffer[: len(buffer) - keep], False

    def flush(self) -> str:
        """The held-back text, once the stream has ended without reaching a stop."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _partial_tail(self, buffer: str) -> int:
        # The longest suffix of the buffer that is a proper prefix of some stop string.
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if buffer.endswith(stop[:size]):
                    longest = size
                    break
        return longest
