"""Rate limits with GCRA (the generic cell rate algorithm, as in ATM traffic shaping and redis-cell):
one timestamp per limit, no windows to reset, exact under bursts, and one atomic Lua call in Redis.

A limit of R per minute with burst B admits B requests at once and then one every 60/R seconds.
Scopes are strings (`model:<alias>`, `key:<id>`, `user:<id>`, `team:<id>`, `global`); all of a request's
limits are checked and charged together, all or none, in one step (one Lua call in Redis). Requests count 1;
token limits count the request's worst case at admission (estimated prompt + max_tokens), so a burst
of large requests cannot slip past the limit before their usage is known.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

log = logging.getLogger("resumeopt.gateway.ratelimit")


# Completion budget assumed for a request that sets no max_tokens, when counting its worst case.
DEFAULT_MAX_TOKENS = 256


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    requests_burst_s: float = Field(1.0, ge=0, description="seconds' worth of requests that may arrive at once")
    tokens_burst_s: float = Field(60.0, ge=0, description="seconds' worth of tokens that may arrive at once")


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0
    refused: int = -1            # take_all: index of the first check that refused


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    per_minute: float
    burst_s: float
    cost: float


class Limiter(Protocol):
    async def take_all(self, checks: list[Check], now: float) -> Verdict:
        """All or nothing: every limit admits the request and each is charged, or none is charged."""


def _gcra(tat: float, now: float, per_minute: float, burst_s: float, cost: float) -> tuple[bool, float, float]:
    """(allowed, new_tat, retry_after). Interval T = 60/rate; capacity = max(burst_s, T) of time."""
    interval = 60.0 / per_minute
    capacity = max(burst_s, interval)
    new_tat = max(tat, now) + interval * cost
    if new_tat - now > capacity + 1e-9:
        return False, tat, new_tat - now - capacity
    return True, new_tat, 0.0


class _Single:
    async def take(self, key: str, per_minute: float, burst_s: float, cost: float, now: float) -> Verdict:
        return await self.take_all([Check(key, per_minute, burst_s, cost)], now)


class MemoryLimiter(_Single):
    def __init__(self) -> None:
        self._tat: dict[str, float] = {}
        self._ops = 0

    async def take_all(self, checks: list[Check], now: float) -> Verdict:
        new: list[float] = []
        for i, c in enumerate(checks):  # no await: atomic on the event loop
            allowed, tat, wait = _gcra(self._tat.get(c.key, 0.0), now, c.per_minute, c.burst_s, c.cost)
            if not allowed:
                return Verdict(False, wait, i)
            new.append(tat)
        for c, tat in zip(checks, new):
            self._tat[c.key] = tat
        self._ops += 1
        if self._ops % 4096 == 0:  # a limit whose TAT is past is the same as no entry: drop it
            self._tat = {k: t for k, t in self._tat.items() if t > now}
        return Verdict(True)


# Every limit of a request in one round trip: check all, then charge all (or none).
_LUA = """
local now = tonumber(ARGV[1])
local new = {}
for i = 1, #KEYS do
  local per_minute, burst, cost = tonumber(ARGV[3*i - 1]), tonumber(ARGV[3*i]), tonumber(ARGV[3*i + 1])
  local interval = 60.0 / per_minute
  local capacity = math.max(burst, interval)
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  local new_tat = math.max(tat, now) + interval * cost
  if new_tat - now > capacity + 1e-9 then
    return {0, tostring(new_tat - now - capacity), i - 1}
  end
  new[i] = new_tat
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tostring(new[i]), 'PX', math.ceil((new[i] - now) * 1000) + 1000)
end
return {1, '0', -1}
"""


class RedisLimiter(_Single):
    """Shared by every replica. Fail-open on a Redis failure, like the breakers."""

    def __init__(self, redis, prefix: str):
        self._prefix = prefix + "ratelimit:"
        self._script = redis.register_script(_LUA)

    async def take_all(self, checks: list[Check], now: float) -> Verdict:
        args: list = [repr(now)]
        for c in checks:
            args += [c.per_minute, c.burst_s, c.cost]
        try:
            allowed, wait, index = await self._script(keys=[self._prefix + c.key for c in checks], args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("rate limit state unavailable (%s): failing open", type(exc).__name__)
            return Verdict(True)
        return Verdict(bool(int(allowed)), float(wait), int(index))


def retry_after_s(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
