"""The evaluation sets: clean ingredient texts of the bundled sample, noised and left clean.

Texts are the sample's ingredient texts in every language they are given in (the product's main
text under the product's language, and each translated text under its own), deduplicated. Each
text falls in the *dev* or the *test* half by a hash of the text, so the halves never share a
text. A text becomes a noisy item (1-3 noise edits, see noise.py) or, one time in four, an
untouched clean item that measures false positives. The clean side is the text with the
real typos listed in REFERENCE_FIXES corrected (a person checked each).

The food vocabulary the CPU engine ships is counted from the sample's texts *except* those of
the test half (scripts/build_food_vocabulary.py), so the test split is not in its vocabulary.

The test split is FROZEN: generated once with ``--seed 13`` and committed as
``data/eval/spellcheck-test.jsonl``; it is read from that file, never regenerated, so later
changes to the noise or the sample cannot move it. Never tune rules on it: tune on ``dev``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from offbatch.errors import ConfigError, DatasetError

from .noise import add_noise

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "off-food-sample.parquet"
FROZEN_TEST = Path(__file__).resolve().parents[1] / "data" / "eval" / "spellcheck-test.jsonl"
SPLITS = ("dev", "test")
DEFAULT_SEED = 13
CLEAN_SHARE = 0.25
# The sample is 90% English: English texts are capped and every other text is noised in several
# independent variants, so that the other languages weigh enough to be reported.
MAX_ENGLISH_TEXTS = 200
VARIANTS_OTHER_LANGUAGES = 4
MIN_CHARS, MAX_CHARS = 20, 3000

# Real typos in the sample's texts, read and checked by hand: the reference side of an item has
# them corrected, so an engine that fixes them is right (the source side keeps them).
REFERENCE_FIXES = {
    "alakli": "alkali", "amgnesium": "magnesium", "citrict": "citric", "concetrate": "concentrate",
    "diglyderides": "diglycerides", "dyglycerides": "diglycerides", "emulcifier": "emulsifier",
    "emulsiifier": "emulsifier", "emuslifier": "emulsifier", "evapporated": "evaporated",
    "hydrochgloride": "hydrochloride", "lacithin": "lecithin", "lecthin": "lecithin",
    "molybadate": "molybdate", "monosterate": "monostearate", "mustgard": "mustard",
    "panothenate": "pantothenate", "phoshphate": "phosphate", "pyrophasphate": "pyrophosphate",
    "tocopherals": "tocopherols", "conterir": "contenir", "deshydraté": "déshydraté",
    "lactiquest": "lactiques", "émulsifant": "émulsifiant", "éolza": "colza", "buile": "huile",
    "épëississant": "épaississant", "emulsfier": "emulsifier", "abncots": "abricots",
    "poivrpn": "poivron", "Oienon": "Oignon", "atetier": "atelier", "butterroil": "butteroil",
    "iol": "oil",
}
_FIXABLE = re.compile(r"\b(" + "|".join(REFERENCE_FIXES) + r")\b")

_QUERY = """
SELECT CASE WHEN t.lang = 'main' THEN p.lang ELSE t.lang END AS lang, t.text
FROM (SELECT lang, unnest(ingredients_text) AS t FROM read_parquet(?)) p
WHERE t.text IS NOT NULL
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class EvalItem:
    id: str
    lang: str
    source: str  # what the engine gets
    reference: str  # the clean text
    noise: tuple[str, ...]  # kinds of noise injected (empty: a clean item)


def split_of(text: str) -> str:
    return "test" if hashlib.sha256(text.encode()).digest()[0] % 2 else "dev"


def sample_texts(dataset: Path = SAMPLE) -> list[tuple[str, str]]:
    """(lang, text) pairs, deduplicated, in a stable order."""
    import duckdb

    rows = duckdb.connect().execute(_QUERY, [str(dataset)]).fetchall()
    seen: set[str] = set()
    texts = []
    for lang, text in rows:
        text = text.strip()
        if not lang or not (MIN_CHARS <= len(text) <= MAX_CHARS) or text in seen:
            continue
        seen.add(text)
        texts.append((lang.lower(), text))
    return texts


def build(split: str, *, seed: int = DEFAULT_SEED, dataset: Path = SAMPLE) -> list[EvalItem]:
    """Generate a split from ``dataset`` (the test split is only generated to freeze it)."""
    items = []
    english = 0
    for lang, text in sample_texts(dataset):
        if split_of(text) != split:
            continue
        if lang == "en":
            english += 1
            if english > MAX_ENGLISH_TEXTS:
                continue
        key = hashlib.sha256(text.encode()).hexdigest()[:12]
        reference = _FIXABLE.sub(lambda m: REFERENCE_FIXES[m.group()], text)
        for variant in range(1 if lang == "en" else VARIANTS_OTHER_LANGUAGES):
            # One generator per text and variant: adding texts does not reshuffle the others.
            rng = random.Random(f"{seed}:{variant}:{text}")
            if rng.random() < CLEAN_SHARE:
                if not any(item.id == f"{key}-clean" for item in items[-variant:] if variant):
                    items.append(EvalItem(f"{key}-clean", lang, text, reference, ()))
                continue
            noisy, kinds = add_noise(text, rng, edits=rng.randint(1, 3))
            if kinds:
                items.append(EvalItem(f"{key}-noisy{variant}", lang, noisy, reference, tuple(kinds)))
    return items


def write(items: list[EvalItem], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(asdict(item), ensure_ascii=False, sort_keys=True) for item in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read(path: Path) -> list[EvalItem]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DatasetError(f"cannot read the evaluation set {path}: {e.strerror or e}") from e
    items = []
    for number, line in enumerate(lines, start=1):
        try:
            raw = json.loads(line)
            items.append(EvalItem(raw["id"], raw["lang"], raw["source"], raw["reference"], tuple(raw["noise"])))
        except (ValueError, KeyError, TypeError) as e:
            raise DatasetError(f"{path}:{number}: not an evaluation item ({e})") from e
    return items


def load(split: str, *, seed: int = DEFAULT_SEED) -> list[EvalItem]:
    """The dev split (generated) or the frozen test split (read from the committed file)."""
    if split == "dev":
        return build("dev", seed=seed)
    if split == "test":
        return read(FROZEN_TEST)
    raise ConfigError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
