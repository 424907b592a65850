"""vLLM spellcheck throughput (products/s) on a GPU, without downloading the model.

Runs the engine's real settings (max_model_len 1024, greedy, fp8 where the GPU supports it) on
the Mistral-7B architecture with random weights (``load_format="dummy"``, config written here),
so the number measures the GPU, not the model's quality. Prompts and answers get the token
lengths of the bundled sample's real ingredient texts: the prompt is the instruction around the
text, and the answer as long as the text (a correction is about as long as the original),
forced with ``ignore_eos`` since random weights would stop anywhere.

    python bench/gpu_spellcheck.py [--products 8192] [--call-rows 512,8192,all] [--json out.json]

``--call-rows`` times the same products sent in ``LLM.generate`` calls of that many prompts
each: 512 is one old worker chunk per call, 8192 the engine's default ``batch_rows``, ``all``
one call for the shard. The ratio of each to ``all`` is the GPU time lost at call tails (the
throughput model in docs/performance.md).

Needs an NVIDIA GPU and vllm (``pip install 'offbatch[vllm]'``); otherwise exits 2 saying so.
Tokens are estimated at 3.2 characters each (no tokenizer download); the estimate is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "offbatch" / "data" / "off-food-sample.parquet"
CHARS_PER_TOKEN = 3.2
PROMPT_OVERHEAD_TOKENS = 16  # "###Correct the list of ingredients:\n" ... "###Correction:\n"

# Mistral-7B-v0.1's architecture (the base of openfoodfacts/spellcheck-mistral-7b).
MISTRAL_7B_CONFIG = {
    "architectures": ["MistralForCausalLM"],
    "model_type": "mistral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "sliding_window": 4096,
    "vocab_size": 32000,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def text_lengths(products: int) -> list[int]:
    """Token lengths of the sample's main ingredient texts, cycled to ``products`` items."""
    con = duckdb.connect()
    rows = con.execute(
        "SELECT length(list_filter(ingredients_text, lambda x: x.lang = 'main')[1].text) FROM read_parquet(?) "
        "WHERE list_filter(ingredients_text, lambda x: x.lang = 'main')[1].text IS NOT NULL",
        [str(SAMPLE)],
    ).fetchall()
    tokens = [max(1, round(n / CHARS_PER_TOKEN)) for (n,) in rows if n]
    return [tokens[i % len(tokens)] for i in range(products)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=8192)
    parser.add_argument("--call-rows", default="512,8192,all",
                        help="comma-separated prompts per LLM.generate call ('all' = one call)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    try:
        call_sizes = [None if v.strip() == "all" else int(v) for v in args.call_rows.split(",")]
    except ValueError:
        parser.error("--call-rows: integers or 'all', comma-separated")
    try:
        import torch
        from vllm import LLM, SamplingParams
        from vllm.inputs import TokensPrompt
    except ModuleNotFoundError as e:
        print(f"skipped: {e.name} is not installed (pip install 'offbatch[vllm]' on a GPU machine)")
        return 2
    if not torch.cuda.is_available():
        print("skipped: no NVIDIA GPU visible to CUDA")
        return 2
    sys.path.insert(0, str(ROOT / "src"))
    from offbatch.engines.vllm import MAX_MODEL_LEN, TEMPERATURE, quantization_for

    capability = torch.cuda.get_device_capability()
    quantization = quantization_for(capability)
    lengths = text_lengths(args.products)
    budget = MAX_MODEL_LEN - PROMPT_OVERHEAD_TOKENS - 1
    pairs = [(min(n, budget // 2), min(n, budget // 2)) for n in lengths]  # (text tokens, answer tokens)
    with tempfile.TemporaryDirectory() as model_dir:
        (Path(model_dir) / "config.json").write_text(json.dumps(MISTRAL_7B_CONFIG))
        started = time.perf_counter()
        llm = LLM(model=model_dir, load_format="dummy", skip_tokenizer_init=True, max_model_len=MAX_MODEL_LEN,
                  quantization=quantization, seed=0)
        load_s = time.perf_counter() - started
        prompts = [TokensPrompt(prompt_token_ids=[1] + [100 + (i + j) % 31000 for j in range(n + PROMPT_OVERHEAD_TOKENS)])
                   for i, (n, _) in enumerate(pairs)]
        params = [SamplingParams(temperature=TEMPERATURE, max_tokens=out, min_tokens=out, ignore_eos=True,
                                 detokenize=False) for _, out in pairs]
        llm.generate(prompts[:16], params[:16], use_tqdm=False)  # warm-up (graphs, kernels)
        by_call: dict[str, float] = {}
        for size in call_sizes:
            step = size or len(prompts)
            started = time.perf_counter()
            outputs = []
            for i in range(0, len(prompts), step):
                outputs += llm.generate(prompts[i:i + step], params[i:i + step], use_tqdm=False)
            by_call["all" if size is None else str(size)] = time.perf_counter() - started
        seconds = min(by_call.values())
    generated = sum(len(o.outputs[0].token_ids) for o in outputs)
    best = min(by_call.values())
    result = {
        "gpu": torch.cuda.get_device_name(),
        "capability": list(capability),
        "quantization": quantization or "bf16",
        "products": len(prompts),
        "mean_text_tokens": round(sum(n for n, _ in pairs) / len(pairs), 1),
        "generated_tokens": generated,
        "seconds": round(seconds, 2),
        "products_per_s": round(len(prompts) / seconds, 2),
        "output_tokens_per_s": round(generated / seconds, 1),
        "load_seconds": round(load_s, 1),
        # products/s with that many prompts per LLM.generate call, and its ratio to the best.
        "products_per_s_by_call_rows": {k: round(len(prompts) / v, 2) for k, v in by_call.items()},
        "ratio_to_best_by_call_rows": {k: round(best / v, 3) for k, v in by_call.items()},
        "chars_per_token_assumed": CHARS_PER_TOKEN,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
