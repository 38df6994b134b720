"""The prompt registry's files: a label moves to one version (taken off the others), only the `labels:`
line of each file is rewritten, every promotion is appended to AUDIT.jsonl, and a resolution in this
process sees the move at once (the loader's cache follows the files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from optimiser.prompt_registry import PromotionError, audit_lines, diff, list_prompts, promote, prompt_path
from optimiser.prompts import PROMPTS_DIR, PromptNotFound, load_prompt


@pytest.fixture
def registry(tmp_path) -> Path:
    """A copy of prompts/: tests never touch the repository's files."""
    root = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, root, ignore=shutil.ignore_patterns("AUDIT.jsonl", ".lock"))
    return root


def _carriers(root: Path, name: str, label: str) -> list[str]:
    return [p.version for p in list_prompts(root, name) if label in p.labels]


def test_promote_moves_the_label_and_a_resolution_in_this_process_sees_it(registry):
    assert load_prompt("writer", "production", registry).version == "1.1.0"  # resolved (and cached) before
    done = promote(registry, "writer", "1.0.0", "production", "alice", "roll back: rewrites got longer")
    assert (done.from_version, done.to_version, done.who) == ("1.1.0", "1.0.0", "alice")
    assert _carriers(registry, "writer", "production") == ["1.0.0"]
    assert load_prompt("writer", "production", registry).version == "1.0.0"
    assert audit_lines(registry) == [{"who": "alice", "at": done.at, "name": "writer", "label": "production",
                                      "from": "1.1.0", "to": "1.0.0", "reason": "roll back: rewrites got longer"}]


def test_a_new_label_rewrites_only_the_labels_line_and_each_promotion_is_appended(registry):
    before = (registry / "writer" / "1.0.0.yaml").read_text()
    promote(registry, "writer", "1.0.0", "candidate", "bob")
    after = (registry / "writer" / "1.0.0.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert changed == [("labels: []", "labels: [candidate]")] and len(before.splitlines()) == len(after.splitlines())
    promote(registry, "writer", "1.1.0", "candidate", "bob", "new writer")
    assert _carriers(registry, "writer", "candidate") == ["1.1.0"]
    assert load_prompt("writer", "1.1.0", registry).labels == ["production", "candidate"]
    assert [(a["from"], a["to"]) for a in audit_lines(registry)] == [(None, "1.0.0"), ("1.0.0", "1.1.0")]


def test_promote_refuses_what_it_cannot_do_and_changes_nothing(registry):
    snapshot = {p: p.read_text() for p in registry.rglob("*.yaml")}
    with pytest.raises(PromptNotFound):
        promote(registry, "writer", "9.9.9", "production", "eve")
    with pytest.raises(PromptNotFound):
        promote(registry, "nosuch", "1.0.0", "production", "eve")
    with pytest.raises(PromotionError) as bad:
        promote(registry, "writer", "1.0.0", "Prod Label", "eve")
    assert bad.value.code == "invalid_label"
    path = registry / "reviewer" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("labels: []", "labels:\n  - old"))
    snapshot[path] = path.read_text()
    with pytest.raises(PromotionError) as multi:  # not the one-line form: refused, never reformatted
        promote(registry, "reviewer", "1.0.0", "candidate", "eve")
    assert multi.value.code == "invalid_prompt_file"
    with pytest.raises(PromotionError) as drill:  # the gate drill's writer may never serve production
        promote(registry, "writer", "1.1.1", "production", "eve")
    assert drill.value.code == "drill_prompt"
    assert {p: p.read_text() for p in registry.rglob("*.yaml")} == snapshot and audit_lines(registry) == []


def test_no_drill_in_the_repository_carries_production():
    prompts = list_prompts(PROMPTS_DIR)
    assert any(p.drill for p in prompts)  # the gate drill (tests/e2e/test_eval_gate_e2e.py) is marked
    assert [f"{p.name}@{p.version}" for p in prompts if p.drill and "production" in p.labels] == []


def test_show_and_diff_resolve_labels_and_versions(registry):
    assert prompt_path(registry, "writer", "production") == registry / "writer" / "1.1.0.yaml"
    text = diff(registry, "writer", "1.0.0", "production")
    assert text.startswith("--- writer/1.0.0.yaml\n+++ writer/1.1.0.yaml\n")
    assert {"-labels: []", "+labels: [production]", "+    {strengths}"} <= set(text.splitlines())
    assert diff(registry, "writer", "1.1.0", "production") == ""
