"""A tiny Mistral-architecture model made here, nothing downloaded: random weights (transformers)
and a byte-level BPE tokenizer trained (tokenizers) on the bundled sample's ingredient texts.

``build(folder)`` writes a model folder vLLM loads like a Hub checkpoint; ``as_hf_cache`` lays a
copy out as ``snapshot_download(revision=<sha>)`` leaves it (``models--org--name/snapshots/<sha>``,
no ``refs/main``). ``eos_first=True`` zeroes the output head, so greedy decoding picks token 0,
which is ``</s>``: every generation stops at once (``finish_reason == "stop"``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from offbatch.settings import Settings

SPECIAL = ["</s>", "<s>", "<unk>"]  # ids 0, 1, 2: greedy decoding on all-zero logits picks </s>
VOCAB_SIZE = 1024
MAX_POSITIONS = 2048


def sample_texts() -> list[str]:
    table = pq.read_table(Settings().dataset_path, columns=["ingredients_text"])
    texts = []
    for entries in table.column("ingredients_text").to_pylist():
        for entry in entries or []:
            if entry and entry.get("text"):
                texts.append(entry["text"])
    return texts


def build(folder: Path, *, eos_first: bool = False, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(sample_texts(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=MAX_POSITIONS)
    fast.save_pretrained(folder)

    config = MistralConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=MAX_POSITIONS,
        bos_token_id=1, eos_token_id=0, pad_token_id=None, tie_word_embeddings=False, sliding_window=None,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = MistralForCausalLM(config)
    if eos_first:
        with torch.no_grad():
            model.lm_head.weight.zero_()
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def as_hf_cache(model_folder: Path, cache_dir: Path, *, repo_id: str, commit: str) -> Path:
    """Copy ``model_folder`` into ``cache_dir`` as a snapshot of ``repo_id`` at ``commit`` (no refs)."""
    snapshot = cache_dir / ("models--" + repo_id.replace("/", "--")) / "snapshots" / commit
    shutil.copytree(model_folder, snapshot)
    return snapshot
