from evaluator.skill_f1 import DEFAULT_DATA, evaluate, gold_spans, predicted_spans, read_conll
from optimiser.tools.skills import Taxonomy


def test_bio_spans_of_one_type():
    tags = ["O", "B-Skill", "I-Skill", "B-Skill", "O", "I-Skill", "B-Domain", "I-Skill"]
    assert gold_spans(tags, "Skill") == {(1, 3), (3, 4), (5, 6), (7, 8)}


def test_char_spans_become_token_spans():
    tokens = "Experience with Node . js and Microsoft Excel required".split()
    spans = predicted_spans(tokens, Taxonomy.load())
    assert (6, 8) in spans  # "Microsoft Excel"


def test_scores_on_the_green_test_set_are_consistent():
    sentences = list(read_conll(DEFAULT_DATA))
    assert len(sentences) == 336
    results = evaluate(sentences, Taxonomy.load())
    assert results["exact"].gold == 676
    assert results["exact"].true_pos <= results["overlap"].true_pos <= results["exact"].gold
