from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from evaluator.datasets import DATASETS_DIR, load_dataset


def test_shipped_datasets_load_and_point_at_real_files():
    for name in ("smoke", "golden"):
        ds = load_dataset(name)
        assert len(ds.content_hash) == 16
        for case in ds.cases:
            assert case.resume_text().strip() and case.job_text().strip()


def test_content_hash_changes_when_a_referenced_file_changes(tmp_path):
    root = tmp_path / "datasets"
    (root / "golden").mkdir(parents=True)
    (root / "r.md").write_text("# A\n")
    (root / "j.txt").write_text("Python developer")
    (root / "golden" / "d.yaml").write_text(yaml.safe_dump(
        {"name": "d", "cases": [{"id": "c", "resume": "r.md", "job": "j.txt"}]}))
    first = load_dataset("d", root).content_hash
    (root / "j.txt").write_text("Go developer")
    assert load_dataset("d", root).content_hash != first


def test_invalid_dataset_is_refused(tmp_path):
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", "cases": [{"id": "x"}]}))
    with pytest.raises(ValidationError):
        load_dataset("bad", tmp_path)


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match="smoke"):
        load_dataset("nope", DATASETS_DIR)
