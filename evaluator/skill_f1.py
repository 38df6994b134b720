"""Span-F1 of the skill extractor on a CoNLL BIO gold set (default: Green et al. 2022's test set).

    python -m evaluator.skill_f1 [--data datasets/skill-extraction-green2022/testset.txt] [--type Skill] [--column N]
    resumeopt skills eval         (the same)

Each sentence is rebuilt by joining its tokens with single spaces (the gold file is tokenised,
so "Node . js" stays as written), the extractor runs on it, and every found character span becomes
the token span of the tokens it overlaps. Scores, against the gold spans of one type:
- exact: a predicted span counts only if its token boundaries equal a gold span's;
- overlap (lenient): a predicted span is correct if it shares a token with a gold span, and a gold
  span is found if some predicted span shares a token with it (precision and recall are counted
  on their own sides, so one long prediction cannot earn several hits of precision).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from optimiser.tools.skills import Taxonomy

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "datasets" / "skill-extraction-green2022" / "testset.txt"

Span = tuple[int, int]  # token indices, end exclusive


class Sentence(NamedTuple):
    tokens: list[str]
    tags: list[str]


class Scores(NamedTuple):
    precision: float
    recall: float
    f1: float
    true_pos: int
    predicted: int
    gold: int


def read_conll(path: Path, column: int = -1) -> Iterator[Sentence]:
    """Sentences of a CoNLL file; `column` is the field holding the tags (SkillSpan has two layers)."""
    tokens: list[str] = []
    tags: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            if tokens:
                yield Sentence(tokens, tags)
            tokens, tags = [], []
            continue
        tokens.append(parts[0])
        tags.append(parts[column] if len(parts) > 1 else "O")
    if tokens:
        yield Sentence(tokens, tags)


def gold_spans(tags: list[str], entity: str) -> set[Span]:
    """BIO spans of one type; an I- tag without its B- starts a span (conlleval's reading)."""
    spans, start = set(), None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, kind = tag.partition("-")
        inside = kind == entity and prefix == "I" and start is not None
        if start is not None and not inside:
            spans.add((start, i))
            start = None
        if kind == entity and start is None:
            start = i
    return spans


def rebuild(tokens: list[str]) -> tuple[str, list[Span]]:
    """The sentence text and each token's character span in it."""
    offsets, pos = [], 0
    for token in tokens:
        offsets.append((pos, pos + len(token)))
        pos += len(token) + 1
    return " ".join(tokens), offsets


def predicted_spans(tokens: list[str], taxonomy: Taxonomy) -> set[Span]:
    text, offsets = rebuild(tokens)
    spans = set()
    for m in taxonomy.extract(text):
        covered = [i for i, (s, e) in enumerate(offsets) if s < m.end and m.start < e]
        if covered:
            spans.add((covered[0], covered[-1] + 1))
    return spans


def _scores(tp_pred: int, predicted: int, tp_gold: int, gold: int) -> Scores:
    p = tp_pred / predicted if predicted else 0.0
    r = tp_gold / gold if gold else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Scores(p, r, f1, tp_gold, predicted, gold)


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(sentences: list[Sentence], taxonomy: Taxonomy, entity: str = "Skill") -> dict[str, Scores]:
    exact = lenient_pred = lenient_gold = n_pred = n_gold = 0
    for s in sentences:
        gold, pred = gold_spans(s.tags, entity), predicted_spans(s.tokens, taxonomy)
        n_pred, n_gold = n_pred + len(pred), n_gold + len(gold)
        exact += len(gold & pred)
        lenient_pred += sum(any(_overlaps(p, g) for g in gold) for p in pred)
        lenient_gold += sum(any(_overlaps(g, p) for p in pred) for g in gold)
    return {"exact": _scores(exact, n_pred, exact, n_gold),
            "overlap": _scores(lenient_pred, n_pred, lenient_gold, n_gold)}


def table(results: dict[str, Scores], title: str) -> str:
    rows = [title, f"{'match':<8} {'P':>6} {'R':>6} {'F1':>6} {'hits':>6} {'pred':>6} {'gold':>6}"]
    for name, s in results.items():
        rows.append(f"{name:<8} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.true_pos:6d} "
                    f"{s.predicted:6d} {s.gold:6d}")
    rows.append("(overlap: P counts predictions touching a gold span, R gold spans touched; 'hits' is R's)")
    return "\n".join(rows)


def run(data: Path = DEFAULT_DATA, entity: str = "Skill", column: int = -1) -> int:
    started = time.perf_counter()
    sentences = list(read_conll(data, column))
    results = evaluate(sentences, Taxonomy.load(), entity)
    print(table(results, f"span scores for {entity!r} on {data.name}: {len(sentences)} sentences"))
    print(f"({time.perf_counter() - started:.2f}s)")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CoNLL file: token ... TAG per line")
    p.add_argument("--type", default="Skill", dest="entity", help="entity type of the BIO tags to score")
    p.add_argument("--column", type=int, default=-1,
                   help="0-based field of the tags (default: last; SkillSpan: 1 skill, 2 knowledge)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evaluator.skill_f1", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    return run(args.data, args.entity, args.column)


if __name__ == "__main__":
    raise SystemExit(main())
