"""How fast one realtime client may send: two token buckets per connection, one counting events
and one counting bytes. A client over either limit is thrown out (the session sends one ``error``
event and closes with 1008); the check itself costs a few arithmetic operations and happens
before any JSON work, so a flood costs the server little. Pure: the clock is passed in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``capacity`` tokens at most, refilled at ``rate_per_s``; starts full."""

    rate_per_s: float
    capacity: float
    level: float
    updated_s: float

    @classmethod
    def full(cls, rate_per_s: float, capacity: float, now_s: float) -> TokenBucket:
        return cls(rate_per_s, capacity, capacity, now_s)

    def take(self, amount: float, now_s: float) -> bool:
        """Take ``amount`` tokens if there are that many; False (and nothing taken) if not."""
        elapsed = max(0.0, now_s - self.updated_s)
        self.level = min(self.capacity, self.level + elapsed * self.rate_per_s)
        self.updated_s = now_s
        if amount > self.level:
            return False
        self.level -= amount
        return True


@dataclass(frozen=True)
class RateLimits:
    """Sustained rates and bursts for one connection."""

    events_per_s: float
    event_burst: int
    bytes_per_s: float
    byte_burst: int


class ClientRateLimit:
    """Both buckets of one connection, and what they counted (for the log line)."""

    def __init__(self, limits: RateLimits, now_s: float) -> None:
        self._events = TokenBucket.full(limits.events_per_s, limits.event_burst, now_s)
        self._bytes = TokenBucket.full(limits.bytes_per_s, limits.byte_burst, now_s)
        self.started_s = now_s
        self.events = 0
        self.bytes = 0

    def allow(self, size_bytes: int, now_s: float) -> bool:
        """Count one event of ``size_bytes``; False once the client is over either limit."""
        self.events += 1
        self.bytes += size_bytes
        return self._events.take(1, now_s) and self._bytes.take(size_bytes, now_s)
