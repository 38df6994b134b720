"""Rate limits with GCRA (the generic cell rate algorithm, as in ATM traffic shaping and redis-cell):
one timestamp per limit, no windows to reset, exact under bursts, and one atomic Lua call in Redis.

A limit of R per minute with burst B admits B requests at once and then one every 60/R seconds.
Scopes are strings (`model:<alias>` now; key and team scopes plug in with identities). Requests count 1;
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


class Limiter(Protocol):
    async def take(self, key: str, per_minute: float, burst_s: float, cost: float, now: float) -> Verdict: ...


def _gcra(tat: float, now: float, per_minute: float, burst_s: float, cost: float) -> tuple[bool, float, float]:
    """(allowed, new_tat, retry_after). Interval T = 60/rate; capacity = max(burst_s, T) of time."""
    interval = 60.0 / per_minute
    capacity = max(burst_s, interval)
    new_tat = max(tat, now) + interval * cost
    if new_tat - now > capacity + 1e-9:
        return False, tat, new_tat - now - capacity
    return True, new_tat, 0.0


class MemoryLimiter:
    def __init__(self) -> None:
        self._tat: dict[str, float] = {}

    async def take(self, key: str, per_minute: float, burst_s: float, cost: float, now: float) -> Verdict:
        allowed, tat, wait = _gcra(self._tat.get(key, 0.0), now, per_minute, burst_s, cost)
        if allowed:
            self._tat[key] = tat
        return Verdict(allowed, wait)


_LUA = """
local now, per_minute, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local interval = 60.0 / per_minute
local capacity = math.max(burst, interval)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new_tat = math.max(tat, now) + interval * cost
if new_tat - now > capacity + 1e-9 then
  return {0, tostring(new_tat - now - capacity)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, '0'}
"""


class RedisLimiter:
    """Shared by every replica. Fail-open on a Redis failure, like the breakers."""

    def __init__(self, redis, prefix: str):
        self._prefix = prefix + "ratelimit:"
        self._script = redis.register_script(_LUA)

    async def take(self, key: str, per_minute: float, burst_s: float, cost: float, now: float) -> Verdict:
        try:
            allowed, wait = await self._script(keys=[self._prefix + key], args=[repr(now), per_minute, burst_s, cost])
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("rate limit state unavailable (%s): failing open for %s", type(exc).__name__, key)
            return Verdict(True)
        return Verdict(bool(int(allowed)), float(wait))


def retry_after_s(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
