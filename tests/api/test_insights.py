"""Insights review: list with filters, get, annotate (accept / reject / edit), product updates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from offbatch.db.models import ProductUpdate
from offbatch.imports import run_import
from tests.api.conftest import bearer
from tests.conftest import output_row

ANNOTATOR = bearer("test-annotation-token-0123456789")


@pytest.fixture
def seeded(settings, db, make_job):
    rows = [output_row(f"{i}", lang=lang, original="lait, sucer", correction="lait, sucre")
            for i in range(3) for lang in ("fr", "en")]
    run_import(settings, db, make_job([rows]).id)


def test_list_filters_and_pages(client, seeded):
    everything = client.get("/api/v1/insights").json()
    assert everything["count"] == 6
    fr = client.get("/api/v1/insights", params={"lang": "fr"}).json()
    assert fr["count"] == 3 and {i["value_tag"] for i in fr["insights"]} == {"fr"}
    one = client.get("/api/v1/insights", params={"barcode": "1", "type": "ingredient_spellcheck"}).json()
    assert one["count"] == 2
    page = client.get("/api/v1/insights", params={"page": 2, "page_size": 4}).json()
    assert page["count"] == 6 and len(page["insights"]) == 2
    assert client.get("/api/v1/insights", params={"annotated": True}).json()["count"] == 0
    assert client.get("/api/v1/insights", params={"page_size": 0}).status_code == 422


def test_accept_records_a_product_update(client, db, seeded):
    insight = client.get("/api/v1/insights", params={"barcode": "1", "lang": "fr"}).json()["insights"][0]
    r = client.post(f"/api/v1/insights/{insight['id']}/annotate", json={"annotation": "accept", "username": "ana"},
                    headers=ANNOTATOR)
    assert r.status_code == 200 and r.json()["annotation"] == 1 and r.json()["annotated_by"] == "ana"
    with db.session() as s:
        (update,) = s.scalars(select(ProductUpdate)).all()
    assert (update.barcode, update.field, update.value, update.applied) == ("1", "ingredients_text_fr", "lait, sucre", False)
    assert client.get("/api/v1/insights", params={"annotated": True}).json()["count"] == 1
    assert client.get("/api/v1/insights", params={"annotated": False}).json()["count"] == 5


def test_edit_records_the_edited_text_and_reject_records_nothing(client, db, seeded):
    a, b = client.get("/api/v1/insights", params={"lang": "en"}).json()["insights"][:2]
    r = client.post(f"/api/v1/insights/{a['id']}/annotate", json={"annotation": "edit", "correction": "lait, sucre."},
                    headers=ANNOTATOR)
    assert r.json()["data"]["annotated_correction"] == "lait, sucre."
    assert client.post(f"/api/v1/insights/{b['id']}/annotate", json={"annotation": "reject"},
                       headers=ANNOTATOR).json()["annotation"] == 0
    with db.session() as s:
        assert [u.value for u in s.scalars(select(ProductUpdate))] == ["lait, sucre."]


def test_annotating_twice_is_a_conflict(client, seeded):
    insight_id = client.get("/api/v1/insights").json()["insights"][0]["id"]
    url = f"/api/v1/insights/{insight_id}/annotate"
    assert client.post(url, json={"annotation": "accept"}, headers=ANNOTATOR).status_code == 200
    assert client.post(url, json={"annotation": "reject"}, headers=ANNOTATOR).status_code == 409


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"annotation": "accept"}, 401),
        (bearer("wrong-token"), {"annotation": "accept"}, 403),
        (bearer("wrong-token"), b"{garbage", 403),
        (ANNOTATOR, {"annotation": "edit"}, 422),
        (ANNOTATOR, {"annotation": "accept", "correction": "x"}, 422),
        (ANNOTATOR, {"annotation": "maybe"}, 422),
    ],
)
def test_annotation_needs_the_annotation_token_and_a_valid_body(client, seeded, headers, body, status):
    insight_id = client.get("/api/v1/insights").json()["insights"][0]["id"]
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = client.post(f"/api/v1/insights/{insight_id}/annotate", headers=headers, **kwargs)
    assert r.status_code == status, r.text


def test_annotation_is_off_without_a_configured_token(settings, db, seeded):
    from fastapi.testclient import TestClient

    from offbatch.api.app import create_app

    app = create_app(settings.model_copy(update={"annotation_token": None}), db, background=False)
    with TestClient(app) as c:
        insight_id = c.get("/api/v1/insights").json()["insights"][0]["id"]
        r = c.post(f"/api/v1/insights/{insight_id}/annotate", json={"annotation": "accept"}, headers=ANNOTATOR)
    assert r.status_code == 403 and "disabled" in r.json()["detail"]


def test_unknown_insight_is_404(client):
    assert client.get("/api/v1/insights/999").status_code == 404
    assert client.post("/api/v1/insights/999/annotate", json={"annotation": "accept"}, headers=ANNOTATOR).status_code == 404
