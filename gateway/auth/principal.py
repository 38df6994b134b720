"""The caller of a request, once authenticated, and the roles it may act as.

Roles (least privilege first): `consumer` calls models and the optimiser and reads its own requests;
`engineer` also reads quality and its team's costs and posts scores; `finance` reads cost reports of
every team and budgets, and calls no model; `admin` does everything, including keys, budgets and modes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "engineer", "finance", "consumer"]
ROLES: tuple[Role, ...] = ("admin", "engineer", "finance", "consumer")
Plan = Literal["free", "basic", "premium"]
# Roles that read across teams (org-wide reports); everyone else sees their own team only.
CROSS_TEAM: frozenset[str] = frozenset({"admin", "finance"})


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["key", "jwt", "admin_key", "anonymous"]
    subject: str                 # key id, JWT `sub`, or "admin"
    team: str
    roles: frozenset[str]
    user_id: str = ""
    plan: str = ""
    key_id: str = ""             # set for virtual keys: the scope of key budgets and limits
    token: str = ""              # the raw credential, forwarded by the optimiser to the gateway; never logged

    def can(self, allowed: frozenset[str]) -> bool:
        return bool(self.roles & allowed)

    @property
    def cross_team(self) -> bool:
        return bool(self.roles & CROSS_TEAM)

    def scopes(self) -> list[str]:
        """Budget and rate-limit scopes this caller's requests count against, narrowest first."""
        out = [f"key:{self.key_id}"] if self.key_id else []
        if self.user_id:
            out.append(f"user:{self.user_id}")
        if self.team:
            out.append(f"team:{self.team}")
        out.append("global")
        return out

    def __repr__(self) -> str:  # never print the credential
        return f"Principal({self.kind}, {self.subject!r}, team={self.team!r}, roles={sorted(self.roles)})"


ANONYMOUS = Principal("anonymous", "anonymous", "", frozenset(ROLES))
