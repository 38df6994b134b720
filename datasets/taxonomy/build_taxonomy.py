"""Build datasets/taxonomy/skills.json from O*NET Technology Skills and curated.yaml.

    python datasets/taxonomy/build_taxonomy.py [path/to/technology_skills.txt]

Deterministic: the same inputs give a byte-identical file (sorted output, no timestamps).

What goes in:
- curated.yaml: hard skills the O*NET list lacks or names awkwardly (k8s, FastAPI, CI/CD, ...),
  soft skills, and the exact (case-sensitive) forms of ambiguous names.
- O*NET "Example" names: every Hot Technology or In Demand one, plus names used by at least
  MIN_OCCUPATIONS occupations that are short (<= MAX_WORDS words, <= MAX_CHARS characters) and
  not generic categories ("... software"). This keeps ~1,500 skills of the 8,745 names: the tail
  is long product names that no JD in our data uses.
- Derived forms of O*NET names: a trailing acronym ("Structured query language SQL" -> "SQL",
  which becomes the canonical name), a parenthesised one ("(AEM)"), and the name without its
  vendor ("Apache Kafka" -> "Kafka"). A form already owned by a skill merges the O*NET name into
  that skill, so the curated name wins ("Atlassian JIRA" -> "Jira").
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
from optimiser.tools.skills import surface_key  # noqa: E402  (the runtime tokenizer: same keys)

DEFAULT_ONET = Path("/work/shared/data/onet/technology_skills.txt")
MIN_OCCUPATIONS = 3
MAX_WORDS, MAX_CHARS = 4, 30
GENERIC_TAIL = {"software", "systems", "system", "databases", "tools", "applications", "programs", "suite"}
MAX_EXACT_LEN = 3  # names this short ("R", "Go", "PHP") are matched case-sensitively


def read_onet(path: Path) -> dict[str, dict]:
    stats: dict[str, dict] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            s = stats.setdefault(row["Example"].strip(), {"hot": False, "occupations": set()})
            s["hot"] |= row["Hot Technology"] == "Y" or row["In Demand"] == "Y"
            s["occupations"].add(row["O*NET-SOC Code"])
    return stats


def select_onet(stats: dict[str, dict], skip: set[str]) -> list[str]:
    def keep(name: str, s: dict) -> bool:
        if name in skip:
            return False
        if s["hot"]:
            return True
        words = name.split()
        return (len(s["occupations"]) >= MIN_OCCUPATIONS and len(words) <= MAX_WORDS
                and len(name) <= MAX_CHARS and words[-1].lower() not in GENERIC_TAIL)

    chosen = [n for n, s in stats.items() if keep(n, s)]
    # Hot first, then widely used: earlier names win when two derive the same form.
    return sorted(chosen, key=lambda n: (not stats[n]["hot"], -len(stats[n]["occupations"]), n))


def _strip_generic(words: list[str]) -> list[str]:
    while len(words) > 1 and words[-1].lower() in GENERIC_TAIL:
        words = words[:-1]
    return words


def trailing_acronym(name: str) -> tuple[str, str] | None:
    """("SQL", "Structured query language") for "Structured query language SQL", else None."""
    words = _strip_generic(re.sub(r"\([^)]*\)", " ", name).split())
    # Three letters at least: two-letter tails are too often a product edition ("Macola ES").
    if len(words) < 2 or not re.fullmatch(r"[A-Z][A-Z0-9]{2,6}", words[-1]):
        return None
    acronym, rest = words[-1], words[:-1]
    letters = "".join("".join(c for c in w if c.isupper()) or w[0].upper() for w in rest)
    wanted = iter(letters)
    if not all(ch in wanted for ch in acronym if ch.isalpha()):  # subsequence of initials
        return None
    return acronym, " ".join(rest)


def parenthesised(name: str) -> list[str]:
    inner = re.findall(r"\(([^)]*)\)", name)
    if not inner:
        return []
    return [re.sub(r"\s*\([^)]*\)", "", name).strip(), *[i for i in inner if i.strip()]]


def without_vendor(name: str, vendors: list[str], common: set[str]) -> tuple[str, bool] | None:
    """(remainder, exact) for a vendor-prefixed name, None if the remainder is not distinctive."""
    vendor = next((v for v in sorted(vendors, key=len, reverse=True) if name.startswith(v + " ")), None)
    if vendor is None:
        return None
    words = _strip_generic(name[len(vendor) + 1:].split())
    rest = " ".join(words)
    if not rest or rest in common or rest.lower() in GENERIC_TAIL:
        return None
    if len(words) > 1:
        return rest, False
    # "DynamoDB", "macOS", "JIRA" cannot be ordinary words; "Kafka" could be, so it stays exact.
    distinctive = any(c.isupper() or c.isdigit() for c in rest[1:]) or not rest.isalpha()
    return rest, len(rest) <= MAX_EXACT_LEN or not distinctive


class Builder:
    """Skills plus which skill owns each surface form, so a new form merges instead of clashing.

    Ownership follows the runtime matcher: an insensitive form owns its case-folded tokens and
    shadows any exact form with the same letters; exact forms of different case ("iOS" and
    Cisco's "IOS") are different forms.
    """

    def __init__(self) -> None:
        self.skills: list[dict] = []
        self.folded: dict[tuple[str, ...], int] = {}  # insensitive forms and folded exact forms
        self.exact: dict[tuple[str, ...], int] = {}

    def owner(self, form: str, exact: bool) -> int | None:
        key = surface_key(form)
        if key is None:
            return None
        folded = tuple(t.casefold() for t in key)
        if exact:
            return self.exact.get(key, self._insensitive_owner(folded))
        return self.folded.get(folded)

    def _insensitive_owner(self, folded: tuple[str, ...]) -> int | None:
        idx = self.folded.get(folded)
        return idx if idx is not None and self.skills[idx].get("_insensitive", {}).get(folded) else None

    def claim(self, idx: int, form: str, exact: bool) -> None:
        key = surface_key(form)
        if key is None:
            return
        folded = tuple(t.casefold() for t in key)
        skill = self.skills[idx]
        if exact:
            self.exact[key] = idx
            self.folded.setdefault(folded, idx)
            skill["exact"].add(form)
        else:
            self.folded[folded] = idx
            skill.setdefault("_insensitive", {})[folded] = True
            skill["aliases"].add(form)

    def add_curated(self, item: dict, kind: str) -> None:
        exact = set(item.get("exact", []))
        forms = [(f, False) for f in [item["name"], *item.get("aliases", [])] if f not in exact]
        forms += [(f, True) for f in exact]
        self.skills.append({"name": item["name"], "kind": kind, "aliases": set(), "exact": set(),
                            "source": "curated", "hot": False})
        idx = len(self.skills) - 1
        for form, is_exact in forms:
            if self.owner(form, is_exact) not in (None, idx):
                raise SystemExit(f"curated form {form!r} is claimed twice")
            self.claim(idx, form, is_exact)

    def add_onet(self, name: str, hot: bool, forms: list[tuple[str, bool]], preferred: str) -> None:
        owners = [o for f, e in forms if (o := self.owner(f, e)) is not None]
        if owners:
            idx = owners[0]
        else:
            idx = len(self.skills)
            self.skills.append({"name": preferred, "kind": "hard", "aliases": set(), "exact": set(),
                                "source": "onet", "hot": False})
        skill = self.skills[idx]
        skill["hot"] |= hot
        if skill["source"] == "curated":
            skill["source"] = "curated+onet"
        for form, exact in forms:
            if self.owner(form, exact) is None:  # forms owned elsewhere (or already here) stay put
                self.claim(idx, form, exact)

    def result(self) -> list[dict]:
        out = []
        for s in self.skills:
            aliases = sorted(a for a in s["aliases"] if a != s["name"])
            out.append({"name": s["name"], "kind": s["kind"], "aliases": aliases,
                        "exact": sorted(s["exact"]), "source": s["source"], "hot": s["hot"]})
        return sorted(out, key=lambda s: (s["kind"], s["name"].casefold(), s["name"]))


def onet_forms(name: str, cfg: dict) -> tuple[list[tuple[str, bool]], str]:
    """Surface forms (form, exact) of an O*NET name and the canonical name it prefers."""
    exact_names = set(cfg["exact"])
    forms = [(name, len(name) <= MAX_EXACT_LEN or name in exact_names)]
    preferred = name
    acronym = trailing_acronym(name)
    if acronym:
        short, long_form = acronym
        forms += [(short, len(short) <= MAX_EXACT_LEN), (long_form, False)]
        preferred = short
    for form in parenthesised(name):
        forms.append((form, len(form) <= MAX_EXACT_LEN))
    stripped = without_vendor(name, cfg["vendors"], set(cfg["common_words"]))
    if stripped:
        forms.append(stripped)
    return forms, preferred


def build(onet_path: Path) -> dict:
    curated = yaml.safe_load((HERE / "curated.yaml").read_text(encoding="utf-8"))
    cfg = curated["onet"]
    builder = Builder()
    for kind in ("hard", "soft"):
        for item in curated[kind]:
            builder.add_curated(item, kind)
    stats = read_onet(onet_path)
    for name in select_onet(stats, set(cfg["skip"])):
        forms, preferred = onet_forms(name, cfg)
        builder.add_onet(name, stats[name]["hot"], forms, preferred)
    return {
        "version": 1,
        "generated_by": "datasets/taxonomy/build_taxonomy.py",
        "sources": {"onet": "O*NET Technology Skills (CC BY 4.0), see ATTRIBUTION.md",
                    "curated": "datasets/taxonomy/curated.yaml"},
        "skills": builder.result(),
    }


def main(argv: list[str]) -> None:
    onet_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_ONET
    data = build(onet_path)
    out = HERE / "skills.json"
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    kinds = [s["kind"] for s in data["skills"]]
    print(f"wrote {out.relative_to(REPO)}: {kinds.count('hard')} hard, {kinds.count('soft')} soft skills")


if __name__ == "__main__":
    main(sys.argv)
