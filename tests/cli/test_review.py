"""Reviewing from the terminal: `offbatch insights accept|reject|edit ID`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import select

from offbatch.db.models import ProductUpdate
from offbatch.errors import ConflictError
from offbatch.imports import run_import
from tests.cli.conftest import clean_env, offbatch
from tests.conftest import output_row


def test_accept_reject_and_edit_annotate_through_the_review_service(settings, db, make_job, home):
    job = make_job([[output_row("3017620422003", original="sucre, farine de blé, huile de palme, lecthine",
                                correction="sucre, farine de blé, huile de palme, lécithine"),
                     output_row("3017620422004", correction="sucre, farine"),  # unchanged: no insight
                     output_row("3017620422005", original="sel, poivre, vinaigr", correction="sel, poivre, vinaigre"),
                     output_row("3017620422006", original="eau, sucr", correction="eau, sucre")]])
    run_import(settings, db, job.id)
    env = clean_env(OFFBATCH_HOME=str(home), OFFBATCH_DATABASE_URL=settings.db_url)

    listed = json.loads(offbatch("insights", "--open", "--json", env=env).stdout)
    assert listed["count"] == 3
    ids = {i["barcode"]: i["id"] for i in listed["insights"]}
    table = offbatch("insights", env=env).stdout
    assert "lecthine → …lécithine" in table.replace("\n", " ") or "lécithine" in table

    accepted = offbatch("insights", "accept", str(ids["3017620422003"]), "--username", "ana", env=env)
    assert f"insight {ids['3017620422003']} (3017620422003, fr): accepted by ana at 20" in accepted.stdout
    rejected = json.loads(offbatch("insights", "reject", str(ids["3017620422005"]), "--json", env=env).stdout)
    assert rejected["annotation"] == 0 and rejected["annotation_label"] == "rejected"
    assert rejected["annotated_at"].endswith("Z")
    edited = json.loads(offbatch("insights", "edit", str(ids["3017620422006"]), "--correction", "eau, sucre de canne",
                                 "--json", env=env).stdout)
    assert edited["annotation"] == 1 and edited["data"]["annotated_correction"] == "eau, sucre de canne"

    # The same service as the API: a second annotation is a conflict; accepted corrections are recorded.
    again = offbatch("insights", "reject", str(ids["3017620422003"]), env=env, check=False)
    assert again.returncode == ConflictError.exit_code
    assert again.stderr.startswith(f"error: insight {ids['3017620422003']} is already annotated")
    with db.session() as s:
        updates = {(u.barcode, u.field, u.value) for u in s.scalars(select(ProductUpdate))}
    assert updates == {("3017620422003", "ingredients_text_fr", "sucre, farine de blé, huile de palme, lécithine"),
                       ("3017620422006", "ingredients_text_fr", "eau, sucre de canne")}
    assert json.loads(offbatch("insights", "--open", "--json", env=env).stdout)["count"] == 0


def test_edit_without_a_correction_off_a_terminal_says_what_to_pass(home):
    env = clean_env(OFFBATCH_HOME=str(home))
    result = offbatch("insights", "edit", "1", env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: offbatch insights edit needs --correction TEXT")
