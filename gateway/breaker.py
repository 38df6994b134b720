"""Circuit breakers, one per deployment, with state in-process or shared across replicas in Redis.

closed ──(failure rate ≥ threshold over the window, with at least `min_requests`)──> open
open ──(cooldown elapsed)──> half_open: at most `half_open_probes` requests in flight
half_open ──(a probe succeeds)──> closed      half_open ──(a probe fails)──> open

Both backends take `now` from the caller, so tests drive them with a fake clock, and both implement the
same transitions (tests run the same cases against each). The Redis backend does every transition in
one Lua script, so replicas never race each other into inconsistent state.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

log = logging.getLogger("resumeopt.gateway.breaker")

State = Literal["closed", "open", "half_open"]


class BreakerPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_s: int = Field(30, ge=1, description="failure rate is measured over this many seconds")
    min_requests: int = Field(10, ge=1, description="no verdict on fewer requests than this")
    failure_rate: float = Field(0.5, gt=0, le=1)
    cooldown_s: float = Field(15.0, gt=0, description="open for this long before probing")
    half_open_probes: int = Field(2, ge=1, description="requests let through while half-open")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    state: State
    retry_after_s: float = 0.0  # when refused: seconds until a request could be let through


class BreakerBackend(Protocol):
    async def allow(self, deployment: str, now: float) -> Decision: ...

    async def record(self, deployment: str, ok: bool, now: float) -> State: ...

    async def state(self, deployment: str, now: float) -> State: ...


@dataclass
class _Circuit:
    state: State = "closed"
    opened_at: float = 0.0
    probes: int = 0
    buckets: dict[int, list[int]] = field(default_factory=dict)  # second -> [ok, failed]


class MemoryBreakers:
    """In-process breakers for the embedded default (one gateway process)."""

    def __init__(self, policy: BreakerPolicy):
        self.policy = policy
        self._circuits: dict[str, _Circuit] = {}

    def _get(self, deployment: str) -> _Circuit:
        return self._circuits.setdefault(deployment, _Circuit())

    async def allow(self, deployment: str, now: float) -> Decision:
        c, p = self._get(deployment), self.policy
        if c.state == "open":
            wait = c.opened_at + p.cooldown_s - now
            if wait > 0:
                return Decision(False, "open", wait)
            c.state, c.probes = "half_open", 0
        if c.state == "half_open":
            if c.probes >= p.half_open_probes:
                return Decision(False, "half_open", 1.0)
            c.probes += 1
        return Decision(True, c.state)

    async def record(self, deployment: str, ok: bool, now: float) -> State:
        c, p = self._get(deployment), self.policy
        if c.state == "half_open":
            c.probes = max(0, c.probes - 1)
            if ok:
                c.state, c.buckets = "closed", {}
            else:
                c.state, c.opened_at = "open", now
            return c.state
        if c.state == "open":
            return c.state  # a straggler that started before the circuit opened
        second = int(now)
        c.buckets = {s: v for s, v in c.buckets.items() if s > second - p.window_s}
        counts = c.buckets.setdefault(second, [0, 0])
        counts[0 if ok else 1] += 1
        total_ok = sum(v[0] for v in c.buckets.values())
        total_failed = sum(v[1] for v in c.buckets.values())
        total = total_ok + total_failed
        if total >= p.min_requests and total_failed / total >= p.failure_rate:
            c.state, c.opened_at, c.buckets = "open", now, {}
        return c.state

    async def state(self, deployment: str, now: float) -> State:
        c = self._get(deployment)
        if c.state == "open" and now >= c.opened_at + self.policy.cooldown_s:
            return "half_open"
        return c.state


# KEYS[1] = circuit hash, KEYS[2] = window hash (field "<second>:ok" / "<second>:fail")
# ARGV = now, window_s, min_requests, failure_rate, cooldown_s, half_open_probes, op, ok
_LUA = """
local now = tonumber(ARGV[1])
local window, min_req, rate = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local cooldown, probes_max = tonumber(ARGV[5]), tonumber(ARGV[6])
local op, ok = ARGV[7], ARGV[8] == '1'
local ttl = math.ceil(window + cooldown) * 4
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
local probes = tonumber(redis.call('HGET', KEYS[1], 'probes') or '0')

local function save(s, o, p)
  redis.call('HSET', KEYS[1], 'state', s, 'opened_at', tostring(o), 'probes', tostring(p))
  redis.call('EXPIRE', KEYS[1], ttl)
end

if op == 'state' then
  if state == 'open' and now >= opened_at + cooldown then return {'half_open', '0'} end
  return {state, '0'}
end

if op == 'allow' then
  if state == 'open' then
    local wait = opened_at + cooldown - now
    if wait > 0 then return {'deny', 'open', tostring(wait)} end
    state, probes = 'half_open', 0
  end
  if state == 'half_open' then
    if probes >= probes_max then save(state, opened_at, probes) return {'deny', 'half_open', '1'} end
    probes = probes + 1
    save(state, opened_at, probes)
  end
  return {'allow', state, '0'}
end

-- op == 'record'
if state == 'half_open' then
  probes = math.max(0, probes - 1)
  if ok then redis.call('DEL', KEYS[2]) save('closed', 0, 0) return {'closed'} end
  save('open', now, 0) return {'open'}
end
if state == 'open' then return {'open'} end
local second = math.floor(now)
redis.call('HINCRBY', KEYS[2], second .. (ok and ':ok' or ':fail'), 1)
redis.call('EXPIRE', KEYS[2], ttl)
local fields = redis.call('HGETALL', KEYS[2])
local total, failed, stale = 0, 0, {}
for i = 1, #fields, 2 do
  local sec = tonumber(string.match(fields[i], '^(%d+)'))
  if sec <= second - window then table.insert(stale, fields[i])
  else
    local n = tonumber(fields[i + 1])
    total = total + n
    if string.find(fields[i], ':fail') then failed = failed + n end
  end
end
if #stale > 0 then redis.call('HDEL', KEYS[2], unpack(stale)) end
if total >= min_req and failed / total >= rate then
  redis.call('DEL', KEYS[2]) save('open', now, 0) return {'open'}
end
save('closed', 0, 0)
return {'closed'}
"""


class RedisBreakers:
    """Breakers shared by every gateway replica through Redis (scaled shape).

    Fail-open: when Redis cannot answer, requests are let through and counted nowhere, rather than a
    Redis outage taking the whole gateway down with it; each such moment is logged."""

    def __init__(self, policy: BreakerPolicy, redis, prefix: str = "resumeopt:"):
        self.policy = policy
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_LUA)

    async def _call(self, deployment: str, now: float, op: str, ok: bool = False) -> list[str]:
        p = self.policy
        keys = [f"{self._prefix}breaker:{deployment}", f"{self._prefix}breaker:{deployment}:window"]
        args = [repr(now), p.window_s, p.min_requests, p.failure_rate, p.cooldown_s, p.half_open_probes,
                op, "1" if ok else "0"]
        try:
            out = await self._script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("breaker state unavailable (%s): failing open for %s", type(exc).__name__, deployment)
            return ["allow", "closed", "0"] if op == "allow" else ["closed"]
        return [x.decode() if isinstance(x, bytes) else str(x) for x in out]

    async def allow(self, deployment: str, now: float) -> Decision:
        verdict, state, wait = await self._call(deployment, now, "allow")
        return Decision(verdict == "allow", state, float(wait))  # type: ignore[arg-type]

    async def record(self, deployment: str, ok: bool, now: float) -> State:
        return (await self._call(deployment, now, "record", ok))[0]  # type: ignore[return-value]

    async def state(self, deployment: str, now: float) -> State:
        return (await self._call(deployment, now, "state"))[0]  # type: ignore[return-value]


def retry_after_header(seconds: float) -> str:
    """Retry-After is whole seconds (RFC 9110 §10.2.3); never 0 for a refusal."""
    return str(max(1, math.ceil(seconds)))
