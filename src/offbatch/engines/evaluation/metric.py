"""An alignment-based token metric: precision, recall and F1 of the tokens an engine changes.

A text is split into tokens: runs of word characters and single punctuation marks (whitespace
only separates). The *source* (the noisy text) is aligned token by token, case-sensitively, with
the *reference* (the clean text) and, separately, with the *prediction* (the engine's output)
using difflib's longest-matching-block alignment. Each non-equal block is an *edit*: a span of
source tokens ``[i, j)`` and the tokens that replace it (an insertion has ``i == j``).

- A predicted edit is correct when the reference has the very same edit (same span, same
  replacement tokens). Partial fixes are wrong: they count against precision and recall.
- An edit weighs ``max(j - i, len(replacement))`` tokens, so joining ``léci - thine`` (3 source
  tokens -> 1) weighs 3 and restoring a lost comma weighs 1.
- precision = correct predicted weight / predicted weight; recall = correct predicted weight /
  reference weight; F1 their harmonic mean. An engine that changes nothing has precision 1 by
  convention (it made no wrong change) and recall 0.

Each edit is also given a *kind* from what it changes (see ``edit_kind``), so the scores can be
broken down by kind: a predicted edit counts under its own kind, a reference edit under its own.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\w+|[^\w\s]")

ACCENT = "accent"
CASE = "case"
SEPARATOR = "separator"
SPLIT = "split"
SHORT_WORD = "short-word"
WORD = "word"
EDIT_KINDS = (WORD, SHORT_WORD, ACCENT, CASE, SPLIT, SEPARATOR)


@dataclass(frozen=True)
class TokenEdit:
    start: int
    end: int
    replacement: tuple[str, ...]
    kind: str

    @property
    def weight(self) -> int:
        return max(self.end - self.start, len(self.replacement))


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def edit_kind(before: list[str], after: list[str]) -> str:
    """What an edit changes, judged from its two sides only (never from how the noise was made)."""
    words_before = [t for t in before if t[0].isalnum() or t[0] == "_"]
    words_after = [t for t in after if t[0].isalnum() or t[0] == "_"]
    if words_before == words_after:
        return SEPARATOR  # only punctuation differs
    joined_before, joined_after = "".join(words_before), "".join(words_after)
    if len(words_before) != len(words_after) and joined_before.lower() == joined_after.lower():
        return SPLIT
    if joined_before.lower() == joined_after.lower():
        return CASE
    if strip_accents(joined_before).lower() == strip_accents(joined_after).lower():
        return ACCENT
    if max((len(w) for w in words_after), default=0) <= 3:
        return SHORT_WORD
    return WORD


def align(source: list[str], target: list[str]) -> list[TokenEdit]:
    """The edits that turn ``source`` into ``target`` (difflib alignment, no junk heuristic)."""
    matcher = difflib.SequenceMatcher(None, source, target, autojunk=False)
    edits = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:
            # n tokens replaced by n: n one-token edits, so fixing one of two neighbouring
            # typos counts as one right edit, not as a wrong two-token one.
            for k in range(i2 - i1):
                edits.append(TokenEdit(i1 + k, i1 + k + 1, (target[j1 + k],),
                                       edit_kind([source[i1 + k]], [target[j1 + k]])))
        elif tag != "equal":
            edits.append(TokenEdit(i1, i2, tuple(target[j1:j2]), edit_kind(source[i1:i2], target[j1:j2])))
    return edits


@dataclass
class Counts:
    """Token weights: ``predicted`` and ``reference`` totals and the ``correct`` ones."""

    predicted: int = 0
    reference: int = 0
    correct_predicted: int = 0
    correct_reference: int = 0

    def add(self, other: Counts) -> None:
        self.predicted += other.predicted
        self.reference += other.reference
        self.correct_predicted += other.correct_predicted
        self.correct_reference += other.correct_reference

    @property
    def precision(self) -> float:
        return self.correct_predicted / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct_reference / self.reference if self.reference else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Score:
    """Counts overall and by kind of edit."""

    total: Counts = field(default_factory=Counts)
    by_kind: dict[str, Counts] = field(default_factory=dict)

    def add(self, other: Score) -> None:
        self.total.add(other.total)
        for kind, counts in other.by_kind.items():
            self.by_kind.setdefault(kind, Counts()).add(counts)


def score_text(source: str, reference: str, prediction: str) -> Score:
    """Score one prediction against one reference, both corrections of ``source``."""
    tokens = tokenize(source)
    expected = align(tokens, tokenize(reference))
    predicted = align(tokens, tokenize(prediction))
    expected_keys = {(e.start, e.end, e.replacement) for e in expected}
    predicted_keys = {(e.start, e.end, e.replacement) for e in predicted}
    score = Score()
    for edits, keys, is_prediction in ((predicted, expected_keys, True), (expected, predicted_keys, False)):
        for edit in edits:
            counts = score.by_kind.setdefault(edit.kind, Counts())
            hit = (edit.start, edit.end, edit.replacement) in keys
            for target in (counts, score.total):
                if is_prediction:
                    target.predicted += edit.weight
                    target.correct_predicted += edit.weight if hit else 0
                else:
                    target.reference += edit.weight
                    target.correct_reference += edit.weight if hit else 0
    return score


def score_all(triples: Iterable[tuple[str, str, str]]) -> Score:
    total = Score()
    for source, reference, prediction in triples:
        total.add(score_text(source, reference, prediction))
    return total
