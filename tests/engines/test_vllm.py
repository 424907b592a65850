"""The vLLM engine's own logic: prompt, output parsing, truncation, quantization choice.

vLLM is not installed here; the objects below have the *shape* of ``LLM.generate``'s output
(``RequestOutput.outputs[0].text/.finish_reason``) so that our parsing is what is tested.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from offbatch.engines import load_engine
from offbatch.engines.vllm import (
    MAX_MODEL_LEN,
    MAX_TOKENS,
    MODEL,
    MODEL_REVISION,
    TEMPERATURE,
    VllmSpellcheckEngine,
    build_prompt,
    parse_output,
    quantization_for,
)
from offbatch.errors import EngineError


def request_output(text: str, finish_reason: str = "stop") -> SimpleNamespace:
    return SimpleNamespace(outputs=[SimpleNamespace(text=text, finish_reason=finish_reason)])


def test_prompt_is_the_models_instruction_format() -> None:
    assert build_prompt("farine de blé, sucre, œufs") == (
        "###Correct the list of ingredients:\nfarine de blé, sucre, œufs\n\n###Correction:\n"
    )


def test_generation_settings_are_open_food_facts_ones() -> None:
    assert (MODEL, TEMPERATURE, MAX_TOKENS, MAX_MODEL_LEN) == ("openfoodfacts/spellcheck-mistral-7b", 0.0, 1024, 1024)


def test_output_is_stripped_and_complete() -> None:
    got = parse_output(request_output(" farine de blé, sucre, lécithine\n"), "farine de blé, sucre, léci thine")
    assert (got.correction, got.truncated) == ("farine de blé, sucre, lécithine", False)


def test_output_cut_by_the_length_limit_is_marked_truncated() -> None:
    got = parse_output(request_output("farine de blé, sucre, lé", finish_reason="length"), "farine...")
    assert got.truncated is True


def test_empty_output_keeps_the_original_text() -> None:
    assert parse_output(request_output("  \n"), "sucre").correction == "sucre"


@pytest.mark.parametrize(
    ("capability", "expected"),
    [((8, 9), "fp8"), ((9, 0), "fp8"), ((8, 0), None), ((7, 5), None), (None, None)],
    ids=["L4", "H100", "A100", "T4", "unknown"],
)
def test_fp8_only_where_the_gpu_has_fp8_units(capability, expected) -> None:
    assert quantization_for(capability) == expected


def test_version_names_model_and_revision_without_loading() -> None:
    engine = load_engine("vllm")
    assert isinstance(engine, VllmSpellcheckEngine)
    assert engine.version == f"{MODEL}@{MODEL_REVISION}"
    assert engine.correct([]) == []


def test_without_vllm_the_engine_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ModuleNotFoundError
    from offbatch.engines.base import SpellcheckInput

    with pytest.raises(EngineError, match="vllm|torch"):
        VllmSpellcheckEngine().correct([SpellcheckInput(text="sucre", lang="fr")])


def test_settings_name_the_model_and_revision_the_version_records(tmp_path) -> None:
    from offbatch.settings import Settings

    sha = "0123456789abcdef0123456789abcdef01234567"
    settings = Settings(home=tmp_path, vllm_model="org/model", vllm_revision=sha, hf_home=tmp_path / "hf")
    engine = load_engine("vllm", settings=settings)
    assert isinstance(engine, VllmSpellcheckEngine)
    # What the launcher compares with earlier predictions before any model is loaded.
    assert engine.version == f"org/model@{sha}"
    assert engine.cache_dir == tmp_path / "hf" / "hub"
    assert engine.batch_rows == settings.vllm_batch_rows == 8192
