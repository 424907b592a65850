"""Reviewing from the terminal: list insights, accept, reject or edit one.

The same service layer as the API's annotate route (``offbatch.review``): one conditional
update, the accepted correction recorded for the product in the same transaction.
"""

from __future__ import annotations

import getpass
from typing import Any

import click

from offbatch.cli.context import database
from offbatch.cli.render import echo_json, iso, note, print_table
from offbatch.errors import ConfigError

LABELS = {None: "open", 1: "accepted", 0: "rejected", -1: "skipped"}


def insight_json(i: Any) -> dict[str, Any]:
    return {
        "id": i.id, "barcode": i.barcode, "type": i.type, "value_tag": i.value_tag, "data": i.data,
        "predictor": i.predictor, "predictor_version": i.predictor_version, "job_id": i.job_id,
        "annotation": i.annotation, "annotation_label": LABELS.get(i.annotation, str(i.annotation)),
        "annotated_at": iso(i.annotated_at), "annotated_by": i.annotated_by,
        "created_at": iso(i.created_at), "updated_at": iso(i.updated_at),
    }


@click.group(invoke_without_command=True)
@click.option("--lang", help="Product language (the insight's value tag).")
@click.option("--barcode")
@click.option("--type", "type_", help="Insight type, e.g. ingredient_spellcheck.")
@click.option("--annotated/--open", default=None, help="Only annotated, or only open, insights.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@click.pass_context
def insights(ctx: click.Context, lang: str | None, barcode: str | None, type_: str | None, annotated: bool | None,
             limit: int, as_json: bool) -> None:
    """List insights, newest first; `offbatch insights accept|reject|edit ID` reviews one."""
    if ctx.invoked_subcommand is not None:
        return
    from offbatch.review import InsightFilter, list_insights

    total, rows = list_insights(
        database(), InsightFilter(type=type_, value_tag=lang, barcode=barcode, annotated=annotated), limit=limit
    )
    if as_json:
        echo_json({"count": total, "insights": [insight_json(i) for i in rows]})
        return
    if not rows:
        note("no insights match" if total == 0 else f"0 of {total} insights")
        return
    table = [[i.id, i.barcode, i.value_tag or "", _change(i.data.get("original") or "", i.data.get("correction") or ""),
              LABELS.get(i.annotation, str(i.annotation))] for i in rows]
    print_table(table, ["id", "barcode", "lang", "original → correction", "annotation"], state_columns=())
    note(f"{len(rows)} of {total} insights; review one with: offbatch insights accept|reject|edit ID")


def _annotate(insight_id: int, annotation: str, *, correction: str | None, username: str | None,
              as_json: bool) -> None:
    from offbatch.review import Annotation, annotate

    insight = annotate(database(), insight_id, annotation=Annotation(annotation), correction=correction,
                       username=username or getpass.getuser())
    if as_json:
        echo_json(insight_json(insight))
        return
    click.echo(f"insight {insight.id} ({insight.barcode}, {insight.value_tag}): "
               f"{LABELS.get(insight.annotation)} by {insight.annotated_by} at {iso(insight.annotated_at)}")


_id = click.argument("insight_id", type=click.IntRange(1))
_username = click.option("--username", help="Reviewer name recorded on the insight (default: your login).")
_json = click.option("--json", "as_json", is_flag=True, help="Print the annotated insight as JSON.")


@insights.command()
@_id
@_username
@_json
def accept(insight_id: int, username: str | None, as_json: bool) -> None:
    """Accept INSIGHT_ID's correction (recorded for the product)."""
    _annotate(insight_id, "accept", correction=None, username=username, as_json=as_json)


@insights.command()
@_id
@_username
@_json
def reject(insight_id: int, username: str | None, as_json: bool) -> None:
    """Reject INSIGHT_ID."""
    _annotate(insight_id, "reject", correction=None, username=username, as_json=as_json)


@insights.command()
@_id
@click.option("--correction", help="The corrected text; without it, $EDITOR opens on the model's correction.")
@_username
@_json
def edit(insight_id: int, correction: str | None, username: str | None, as_json: bool) -> None:
    """Accept INSIGHT_ID with your own correction."""
    if correction is None:
        import sys

        from offbatch.review import get_insight

        if not sys.stdin.isatty():
            raise ConfigError("offbatch insights edit needs --correction TEXT when not run in a terminal")
        current = get_insight(database(), insight_id).data.get("correction") or ""
        edited = click.edit(current, require_save=True)
        if edited is None:
            raise ConfigError("edit abandoned: the file was not saved", hint="pass --correction TEXT instead")
        correction = edited.rstrip("\n")
    _annotate(insight_id, "edit", correction=correction, username=username, as_json=as_json)


def _change(original: str, correction: str, *, context: int = 12) -> str:
    """The changed span of a correction with a little context: '…soy lecthin. → …soy lecithin.'."""
    start = 0
    while start < min(len(original), len(correction)) and original[start] == correction[start]:
        start += 1
    end = 0
    while (end < min(len(original), len(correction)) - start
           and original[-1 - end] == correction[-1 - end]):
        end += 1
    left = max(0, start - context)

    def span(text: str) -> str:
        stop = min(len(text), len(text) - end + context)
        piece = text[left:stop].replace("\n", " ")
        if len(piece) > 60:  # several changes far apart: keep both ends
            piece = piece[:28] + " … " + piece[-28:]
        return ("…" if left else "") + piece + ("…" if stop < len(text) else "")

    return f"{span(original)} → {span(correction)}"
