"""``offbatch eval``: score a spellcheck engine on the dev or the frozen test split."""

from __future__ import annotations

import click


@click.command("eval")
@click.option("--engine", "engine_name", default="cpu", show_default=True, help="Engine to score.")
@click.option("--split", type=click.Choice(["dev", "test"]), default="dev", show_default=True,
              help="dev: tune on it; test: the frozen split, for reporting only.")
@click.option("--show-mistakes", default=0, show_default=True, type=int,
              help="Print up to N texts where the engine made a change the reference does not have.")
def evaluate(engine_name: str, split: str, show_mistakes: int) -> None:
    """Score an engine: precision, recall and F1 of the changed tokens, per language and kind."""
    from offbatch.engines import load_engine
    from offbatch.engines.evaluation import dataset
    from offbatch.engines.evaluation.report import evaluate as run
    from offbatch.engines.evaluation.report import format_report

    items = dataset.load(split)
    engine = load_engine(engine_name)
    try:
        report = run(engine, items)
    finally:
        engine.close()
    click.echo(format_report(report, title=f"{engine.version} on the {split} split"))
    for item, prediction in report.mistakes[:show_mistakes]:
        click.echo(f"\n[{item.id} {item.lang}]\n  source:     {item.source}\n"
                   f"  reference:  {item.reference}\n  prediction: {prediction}")
