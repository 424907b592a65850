"""Run an engine over an evaluation set and tabulate precision, recall and F1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from offbatch.engines.base import Engine, SpellcheckInput

from .dataset import EvalItem
from .metric import EDIT_KINDS, Counts, Score, score_text


@dataclass
class Report:
    overall: Score = field(default_factory=Score)
    by_language: dict[str, Score] = field(default_factory=dict)
    items: int = 0
    clean_items: int = 0
    clean_changed: int = 0  # clean texts the engine changed (each change is a false positive)
    mistakes: list[tuple[EvalItem, str]] = field(default_factory=list)


def evaluate(engine: Engine, items: Sequence[EvalItem], *, batch_size: int = 256) -> Report:
    report = Report()
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        corrections = engine.correct([SpellcheckInput(item.source, item.lang) for item in batch])
        for item, correction in zip(batch, corrections, strict=True):
            prediction = correction.correction
            score = score_text(item.source, item.reference, prediction)
            report.overall.add(score)
            report.by_language.setdefault(item.lang, Score()).add(score)
            report.items += 1
            if not item.noise:
                report.clean_items += 1
                report.clean_changed += prediction != item.source
            if score.total.correct_predicted != score.total.predicted:
                report.mistakes.append((item, prediction))
    return report


def _row(name: str, counts: Counts) -> str:
    return (f"| {name} | {counts.precision:.3f} | {counts.recall:.3f} | {counts.f1:.3f} "
            f"| {counts.predicted} | {counts.reference} |")


def format_report(report: Report, *, title: str) -> str:
    header = "| {} | precision | recall | F1 | tokens changed | tokens to change |\n|---|---|---|---|---|---|"
    summary = (f"{report.items} texts ({report.clean_items} clean; the engine changed "
               f"{report.clean_changed} of them)")
    lines = [f"## {title}", "", summary, "", header.format("language")]
    for lang in sorted(report.by_language, key=lambda lang: -report.by_language[lang].total.reference):
        lines.append(_row(lang, report.by_language[lang].total))
    lines.append(_row("**all**", report.overall.total))
    lines += ["", header.format("kind of edit")]
    for kind in EDIT_KINDS:
        lines.append(_row(kind, report.overall.by_kind.get(kind, Counts())))
    return "\n".join(lines)
