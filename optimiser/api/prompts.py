"""`POST /admin/v1/prompts/{name}/promote`: move a label to a version of a prompt in the platform's own
registry, so the platform serves it from its next optimisation (resolution re-reads changed files).

The platform performs what it audits: the files change here, the audit line goes to the registry's
`AUDIT.jsonl`, and the audit row to the store before the caller is answered, under the caller's key.
`resumeopt prompts promote` calls this when a platform is configured (RESUMEOPT_PLATFORM_URL), and moves
the label in the local files (AUDIT.jsonl only) when none is.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.admin import actor
from gateway.api.deps import WriterDep
from gateway.auth.gate import PrincipalDep, allow
from gateway.errors import GatewayError
from optimiser.prompt_registry import LABEL_RE, PromotionError, promote
from optimiser.prompts import PromptNotFound
from optimiser.settings import OptimiserSettings


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    label: str = Field(pattern=LABEL_RE)
    reason: str = Field("", max_length=500)


def create_prompts_router(settings: OptimiserSettings) -> APIRouter:
    router = APIRouter(prefix="/admin/v1")

    @router.post("/prompts/{name}/promote", **allow("admin"))
    def promote_label(name: str, body: PromoteIn, writer: WriterDep, principal: PrincipalDep):
        if not re.match(r"^[A-Za-z0-9_-]{1,64}$", name):  # a folder name under prompts/, never a path
            raise GatewayError(404, "prompt_not_found", "No prompt of this name")
        try:
            done = promote(settings.prompts_dir, name, body.version, body.label, actor(principal), body.reason)
        except PromptNotFound:
            raise GatewayError(404, "prompt_not_found", f"Prompt '{name[:64]}' has no version {body.version}") from None
        except PromotionError as exc:
            raise GatewayError(422, exc.code, str(exc)) from None
        writer.emit("audit", {"audit_id": uuid.uuid4().hex, "ts": datetime.now(UTC), "actor": done.who,
                              "action": "prompt.promote", "target": f"prompt:{name}:{body.label}",
                              "before": json.dumps(done.from_version), "after": json.dumps(done.to_version),
                              "reason": body.reason})
        writer.flush(timeout=10)  # audited before the caller hears "done", as every admin change is
        return {"name": name, "label": body.label, "from": done.from_version, "to": done.to_version,
                "who": done.who, "at": done.at, "audited": ["store", "AUDIT.jsonl"]}

    return router
