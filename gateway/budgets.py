"""Budgets that cannot be overspent, even under concurrency.

Before a call, its worst-case cost (estimated prompt + every completion token it may produce, at the
deployment's price) is *reserved* against every budget that applies, atomically: spent + reserved +
this reservation must stay within the limit, or nothing is reserved and the request gets 402. After
the call, the reservation is *settled* to the actual cost (or released on failure). LiteLLM's budgets
were overspent under concurrency (#34732, #40095) because they checked spend and recorded it later;
here the check and the reservation are one step (one Lua script in Redis; no await in-process).

Periods are calendar-aligned in the configured time zone: a daily budget resets at local midnight,
a monthly one on the 1st. Scopes are strings: `global`, `team:<id>`, `user:<id>`, `key:<id>`.

A window's ledger starts from what `model_calls` already recorded in it (once per window per process,
"set if absent"), so neither a restart nor a budget added mid-period resets what was spent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

from gateway.errors import GatewayError

log = logging.getLogger("resumeopt.gateway.budgets")
Period = Literal["day", "month"]


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: str = Field("global", description="`global`, `team:<id>`, `user:<id>` or `key:<id>`")
    period: Period = "day"
    limit_usd: Decimal = Field(gt=0)
    mode: Literal["hard", "soft"] = Field("hard", description="hard refuses with 402; soft only logs")


class BudgetPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_zone: str = "UTC"
    max_request_usd: Decimal | None = Field(None, gt=0, description="refuse any single request whose worst case costs more")
    default_max_tokens: int = Field(4096, ge=1, description="cap set on requests without max_tokens while budgets apply")
    budgets: list[Budget] = []


@dataclass(frozen=True, slots=True)
class Window:
    key: str            # budget id: scope, period and the period's start
    scope: str
    starts: datetime
    resets: datetime


def window(budget: Budget, now: datetime, tz: str) -> Window:
    local = now.astimezone(ZoneInfo(tz))
    if budget.period == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)
    else:
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
    # Aware arithmetic in the same zone is wall-clock arithmetic, so a DST change inside the period
    # still ends it at local midnight.
    return Window(f"{budget.scope}:{budget.period}:{start.date().isoformat()}", budget.scope, start, end)


@dataclass(frozen=True, slots=True)
class Reservations:
    ok: bool
    refused: int = -1                              # index of the window that refused
    spent: Decimal = Decimal(0)                    # its spent + reserved at the moment of refusal
    after: tuple[Decimal, ...] = ()                # on success: each window's spent + reserved, this one included


class BudgetStore(Protocol):
    async def reserve(self, windows: list[tuple[str, Decimal, int]], amount: Decimal) -> Reservations:
        """All or nothing: `amount` is reserved in every window (key, limit, ttl) or in none."""

    async def settle(self, windows: list[tuple[str, int]], reserved: Decimal, actual: Decimal) -> None: ...

    async def seed(self, key: str, spent: Decimal, ttl_s: int) -> None:
        """Start a window's spend at `spent` unless the window already has a ledger."""


class MemoryBudgets:
    """In-process: one event loop, no await between check and reserve, so it is atomic as it stands."""

    def __init__(self) -> None:
        self._spent: dict[str, Decimal] = {}
        self._reserved: dict[str, Decimal] = {}
        self._expires: dict[str, float] = {}  # a window's ledger is dropped a day after it resets
        self._ops = 0

    async def reserve(self, windows: list[tuple[str, Decimal, int]], amount: Decimal) -> Reservations:
        after = []
        for i, (key, limit, _) in enumerate(windows):
            used = self._spent.get(key, Decimal(0)) + self._reserved.get(key, Decimal(0))
            if used + amount > limit:
                return Reservations(False, i, used)
            after.append(used + amount)
        now = time.time()
        for key, _, ttl in windows:
            self._reserved[key] = self._reserved.get(key, Decimal(0)) + amount
            self._expires[key] = now + ttl
        self._ops += 1
        if self._ops % 4096 == 0:
            self._prune(now)
        return Reservations(True, after=tuple(after))

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._expires.items() if t < now and not self._reserved.get(k)]:
            self._spent.pop(key, None)
            self._reserved.pop(key, None)
            del self._expires[key]

    async def settle(self, windows: list[tuple[str, int]], reserved: Decimal, actual: Decimal) -> None:
        for key, _ in windows:
            self._reserved[key] = self._reserved.get(key, Decimal(0)) - reserved
            self._spent[key] = self._spent.get(key, Decimal(0)) + actual

    async def seed(self, key: str, spent: Decimal, ttl_s: int) -> None:
        self._spent.setdefault(key, spent)


# Amounts travel as integer nano-dollars: Lua numbers are doubles, and sums of doubles drift.
_NANO = Decimal("1e9")
# Every window of a request in one round trip: check all, then reserve in all (or none).
# ARGV: amount, then (limit, ttl) per key. Amounts are integers (nano-dollars) and returned as strings.
_RESERVE = """
local amount = tonumber(ARGV[1])
local used = {}
for i = 1, #KEYS do
  local spent = tonumber(redis.call('HGET', KEYS[i], 'spent') or '0')
  local reserved = tonumber(redis.call('HGET', KEYS[i], 'reserved') or '0')
  used[i] = spent + reserved
  if used[i] + amount > tonumber(ARGV[2*i]) then return {0, i - 1, string.format('%.0f', used[i])} end
end
local after = {1, -1, '0'}
for i = 1, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved', amount)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2*i + 1]))
  after[#after + 1] = string.format('%.0f', used[i] + amount)
end
return after
"""
# ARGV[1] is the negated reservation, computed in Python: Lua's -0 reaches Redis (< 7.2) as "-0", which
# HINCRBY refuses, so a free call's settle failed.
_SETTLE = """
for i = 1, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved', ARGV[1])
  redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2])
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2 + i]))
end
return 1
"""


class RedisBudgets:
    """Shared by every replica. Unlike breakers, budgets fail closed: a Redis outage refuses spend."""

    def __init__(self, redis, prefix: str):
        self._redis, self._prefix = redis, prefix + "budget:"
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    async def reserve(self, windows: list[tuple[str, Decimal, int]], amount: Decimal) -> Reservations:
        args: list = [_nano(amount)]
        for _, limit, ttl in windows:
            args += [_nano(limit), ttl]
        try:
            ok, index, used, *after = await self._reserve(keys=[self._prefix + k for k, _, _ in windows], args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            log.error("budget state unavailable (%s): refusing spend", type(exc).__name__)
            return Reservations(False, 0, Decimal(0))
        to_usd = lambda v: Decimal(int(float(v))) / _NANO  # noqa: E731
        return Reservations(bool(int(ok)), int(index), to_usd(used), tuple(to_usd(v) for v in after))

    async def seed(self, key: str, spent: Decimal, ttl_s: int) -> None:
        try:  # HSETNX: the first replica to open the window seeds it; later ones change nothing
            if await self._redis.hsetnx(self._prefix + key, "spent", _nano(spent)):
                await self._redis.expire(self._prefix + key, ttl_s)
        except (RedisError, OSError, TimeoutError) as exc:
            log.error("budget seed failed (%s) for %s", type(exc).__name__, key)

    async def settle(self, windows: list[tuple[str, int]], reserved: Decimal, actual: Decimal) -> None:
        try:
            await self._settle(keys=[self._prefix + k for k, _ in windows],
                               args=[-_nano(reserved), _nano(actual), *(ttl for _, ttl in windows)])
        except (RedisError, OSError, TimeoutError) as exc:
            log.error("budget settle failed (%s): %s reserved stays held until its windows expire",
                      type(exc).__name__, reserved)


def _nano(x: Decimal) -> int:
    return int((x * _NANO).to_integral_value(rounding="ROUND_CEILING"))


@dataclass
class Held:
    """What one request reserved; settled exactly once."""

    keys: list[tuple[str, int]]  # (window key, ttl)
    amount: Decimal
    settled: bool = False


SpentSince = Callable[[str, datetime], Decimal]  # (scope, window start) -> cost recorded since


class BudgetGuard:
    """Applies budgets to one request: reserve its worst case, settle its actual cost."""

    def __init__(self, policy: BudgetPolicy, store: BudgetStore, spent_since: SpentSince | None = None):
        self.policy, self._store, self._spent_since = policy, store, spent_since
        self._seeded: dict[str, tuple[asyncio.Future, datetime]] = {}

    async def reserve(self, worst_usd: Decimal, now: datetime, budgets: list[Budget],
                      max_request_usd: Decimal | None) -> Held:
        if max_request_usd is not None and worst_usd > max_request_usd:
            raise GatewayError(402, "budget_exceeded", f"This request may cost up to ${worst_usd:.6f}, more than "
                               f"the per-request maximum; lower max_tokens", "budget_exceeded",
                               extra={"scope": "request", "limit": str(max_request_usd), "spent": "0",
                                      "resets_at": None})
        if not budgets:
            return Held([], worst_usd)
        windows, ttls = [], []
        for budget in budgets:
            w = window(budget, now, self.policy.time_zone)
            ttl = int((w.resets - now).total_seconds()) + 86_400  # keep a day past reset for reports
            await self._seed(w, ttl)
            windows.append(w)
            ttls.append(ttl)
        limits = [b.limit_usd if b.mode == "hard" else Decimal("1e15") for b in budgets]
        got = await self._store.reserve([(w.key, lim, ttl) for w, lim, ttl in zip(windows, limits, ttls)], worst_usd)
        if not got.ok:
            b, w = budgets[got.refused], windows[got.refused]
            raise GatewayError(402, "budget_exceeded", f"The {b.period} budget of '{b.scope}' is spent",
                               "budget_exceeded", extra={"scope": b.scope, "limit": str(b.limit_usd),
                                                         "spent": str(got.spent), "resets_at": w.resets.isoformat()})
        for b, w, after in zip(budgets, windows, got.after):
            if b.mode == "soft" and after > b.limit_usd:
                log.warning("soft budget %s exceeded: %s of %s", w.key, after, b.limit_usd)
        return Held([(w.key, ttl) for w, ttl in zip(windows, ttls)], worst_usd)

    async def _seed(self, w: Window, ttl: int) -> None:
        """Once per window per process: start the ledger from the store. Concurrent first requests share
        one query; the reservation after it has no await between check and take."""
        if self._spent_since is None:
            return
        pending = self._seeded.get(w.key)
        if pending is None:
            if len(self._seeded) >= 4096:  # forget windows that have ended (keys x periods grow forever)
                ended = datetime.now(w.resets.tzinfo)
                self._seeded = {k: (f, r) for k, (f, r) in self._seeded.items() if r > ended}
            pending = self._seeded[w.key] = (asyncio.ensure_future(self._load_seed(w, ttl)), w.resets)
        await pending[0]

    async def _load_seed(self, w: Window, ttl: int) -> None:
        try:
            spent = await asyncio.to_thread(self._spent_since, w.scope, w.starts)
        except Exception as exc:
            # Without the window's past spend a hard limit cannot be enforced: refuse (like a Redis outage),
            # and read it again on the next request. (Starting at 0 and seeding later would be a no-op.)
            log.error("cannot read past spend of %s (%s): refusing spend until it can", w.key, type(exc).__name__)
            self._seeded.pop(w.key, None)
            raise GatewayError(503, "budget_unavailable", "Budget state cannot be read; retry shortly",
                               "service_unavailable", headers={"retry-after": "5"}) from None
        await self._store.seed(w.key, spent, ttl)

    async def settle(self, held: Held, actual_usd: Decimal) -> None:
        if held.settled:
            return
        held.settled = True
        if held.keys:
            await self._store.settle(held.keys, held.amount, actual_usd)
