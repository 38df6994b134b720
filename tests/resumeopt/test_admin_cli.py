"""`resumeopt keys ...` and `resumeopt budgets ...` as an operator runs them: each command starts the
embedded platform (without the model server) on the machine's store, acts through the admin API with
the machine's bootstrap admin key, and prints JSON; the changes persist across commands and are audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

import yaml

from gateway.local_model import free_port
from tests.support import wait_for


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _cli(data_dir, *args: str) -> dict:
    env = {**os.environ, "RESUMEOPT_DATA_DIR": str(data_dir)}
    env.pop("RESUMEOPT_PLATFORM_URL", None)
    out = subprocess.run([sys.executable, "-m", "resumeopt.cli", *args, "--json"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_keys_and_budgets_from_the_command_line(tmp_path):
    data = tmp_path / "data"
    created = _cli(data, "keys", "create", "--team", "acme", "--role", "engineer", "--plan", "basic",
                   "--reason", "new hire")
    key, key_id = created["key"], created["key_id"]
    assert key.startswith(f"ro_{key_id}_") and created["status"] == "active"
    listed = _cli(data, "keys", "list", "--team", "acme")["keys"]
    assert [k["key_id"] for k in listed] == [key_id] and key not in json.dumps(listed)
    assert _cli(data, "budgets", "set", "team:acme", "--day", "5", "--month", "50", "--rpm", "100")["limits"] == {
        "budget_day_usd": "5", "budget_month_usd": "50", "requests_per_minute": 100.0}
    budgets = _cli(data, "budgets", "list")["budgets"]
    assert {(b["scope"], b["period"], b["limit_usd"], b["spent_usd"]) for b in budgets} == {
        ("team:acme", "day", "5", "0"), ("team:acme", "month", "50", "0")}
    assert _cli(data, "keys", "revoke", key_id, "--reason", "left")["status"] == "revoked"

    # the same store, served by `resumeopt gateway` (chDB: one process per store, so another process):
    # the key is refused, and the audit trail holds every change with its reason
    admin = (data / "admin.key").read_text().strip()
    assert oct((data / "admin.key").stat().st_mode & 0o777) == "0o600"
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({"default_alias": "s", "models": [
        {"alias": "s", "deployments": [{"name": "s", "provider": "simulator", "model": "s"}]}]}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RESUMEOPT_DATA_DIR": str(data), "RESUMEOPT_ADMIN_KEY": admin}
    proc = subprocess.Popen([sys.executable, "-m", "resumeopt.cli", "gateway", "--config", str(config), "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _healthy(url), timeout=60, what="gateway", interval=0.2)
        me = httpx.get(f"{url}/api/v1/me", headers={"authorization": f"Bearer {key}"})
        audit = httpx.get(f"{url}/admin/v1/audit", headers={"authorization": f"Bearer {admin}"}).json()["rows"]
    finally:
        proc.terminate()
        proc.wait(15)
    assert me.json()["error"]["code"] == "key_revoked"
    assert sorted((a["action"], a["reason"]) for a in audit) == [
        ("key.create", "new hire"), ("key.revoke", "left"), ("limits.set", "")]


def test_an_admin_command_with_a_bad_argument_exits_non_zero_with_a_json_error(tmp_path):
    env = {**os.environ, "RESUMEOPT_DATA_DIR": str(tmp_path / "data")}
    env.pop("RESUMEOPT_PLATFORM_URL", None)
    out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "keys", "revoke", "nosuchkey"], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 1
    assert json.loads(out.stderr.strip().splitlines()[-1])["error"]["code"] == "key_not_found"
