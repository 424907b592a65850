"""The vLLM engine: Open Food Facts' fine-tuned Mistral-7B corrects ingredient lists on a GPU.

Model ``openfoodfacts/spellcheck-mistral-7b`` with its instruction prompt, greedy decoding
(temperature 0), at most 1024 new tokens in a 1024-token context, as Open Food Facts runs it.
Weights are quantized to fp8 where the GPU has fp8 units (compute capability >= 8.9: L4, H100),
and kept in bf16 elsewhere (A100, 8.0). An output cut by the length limit (``finish_reason ==
"length"``), or a prompt too long for the context, is returned with ``truncated=True``: it is
stored as a prediction and never becomes an insight. An empty output returns the original text
(no correction). ``version`` is ``model@revision`` with the revision resolved to its commit.

vLLM (the ``vllm`` extra) and torch are imported only when the model loads: this module imports
without them, and prompt building and output parsing are plain functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from offbatch.engines.base import Correction, Engine, SpellcheckInput
from offbatch.errors import EngineError

log = logging.getLogger(__name__)

MODEL = "openfoodfacts/spellcheck-mistral-7b"
# The revision to load. A branch name is resolved to its commit when the model loads (the commit
# goes into every prediction's version); the container image bakes the weights of the commit
# given at build time (containers/ingredients-spellcheck/Dockerfile, MODEL_REVISION).
MODEL_REVISION = "main"
PROMPT_TEMPLATE = "###Correct the list of ingredients:\n{text}\n\n###Correction:\n"
TEMPERATURE = 0.0
MAX_TOKENS = 1024
MAX_MODEL_LEN = 1024
# fp8 weights need Ada (8.9) or Hopper (9.0) tensor cores; A100 (8.0) runs bf16.
FP8_MIN_CAPABILITY = (8, 9)


def build_prompt(text: str) -> str:
    return PROMPT_TEMPLATE.format(text=text)


def parse_output(request_output: Any, original: str) -> Correction:
    """One Correction from one of ``LLM.generate``'s RequestOutput (``.outputs[0]``)."""
    completion = request_output.outputs[0]
    text = (completion.text or "").strip()
    truncated = completion.finish_reason == "length"
    if not text:
        return Correction(correction=original, truncated=truncated)
    return Correction(correction=text, truncated=truncated)


def quantization_for(capability: tuple[int, int] | None) -> str | None:
    """``"fp8"`` on GPUs with fp8 units, else None (the checkpoint's own dtype)."""
    if capability is not None and capability >= FP8_MIN_CAPABILITY:
        return "fp8"
    return None


class VllmSpellcheckEngine(Engine):
    """Loads the model on first use; one instance per worker process (it holds the GPU).

    Not thread-safe: vLLM's offline ``LLM`` batches the prompts of one ``correct`` call itself.
    """

    name: ClassVar[str] = "vllm"

    def __init__(
        self,
        *,
        model: str = MODEL,
        revision: str = MODEL_REVISION,
        max_model_len: int = MAX_MODEL_LEN,
        max_tokens: int = MAX_TOKENS,
        quantization: str | None = "auto",
        llm_options: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.revision = revision
        self.max_model_len = max_model_len
        self.max_tokens = max_tokens
        self._quantization = quantization
        self._llm_options = llm_options or {}
        self._llm: Any = None
        self._sampling: Any = None
        self._commit: str | None = None

    @property
    def version(self) -> str:
        return f"{self.model}@{self._commit or self.revision}"

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        try:
            import torch
            from vllm import LLM, SamplingParams
        except ModuleNotFoundError as e:
            raise EngineError(
                f"engine 'vllm' needs the missing package {e.name!r}",
                hint="install it with: pip install 'offbatch[vllm]' (on a machine with an NVIDIA GPU)",
            ) from e
        if not torch.cuda.is_available():
            raise EngineError("engine 'vllm' needs an NVIDIA GPU, and CUDA sees none",
                              hint="use engine 'cpu' without a GPU")
        quantization = self._quantization
        if quantization == "auto":
            quantization = quantization_for(torch.cuda.get_device_capability())
        self._commit = _resolve_commit(self.model, self.revision)
        log.info("loading %s (quantization %s, max_model_len %d)", self.version, quantization or "none",
                 self.max_model_len)
        self._llm = LLM(
            model=self.model,
            revision=self._commit or self.revision,
            tokenizer_revision=self._commit or self.revision,
            max_model_len=self.max_model_len,
            quantization=quantization,
            **self._llm_options,
        )
        self._sampling = SamplingParams(temperature=TEMPERATURE, max_tokens=self.max_tokens)
        return self._llm

    def correct(self, items: Sequence[SpellcheckInput]) -> list[Correction]:
        if not items:
            return []
        llm = self._load()
        tokenizer = llm.get_tokenizer()
        prompts = [build_prompt(item.text) for item in items]
        # A prompt that fills the context leaves no room for an answer; vLLM would reject it and
        # fail the whole batch. Such items are returned unchanged and marked truncated.
        fits = [len(tokenizer.encode(p)) < self.max_model_len for p in prompts]
        outputs = iter(llm.generate([p for p, ok in zip(prompts, fits) if ok], self._sampling, use_tqdm=False))
        return [
            parse_output(next(outputs), item.text) if ok else Correction(correction=item.text, truncated=True)
            for item, ok in zip(items, fits)
        ]

    def close(self) -> None:
        self._llm = None


def _resolve_commit(model: str, revision: str) -> str | None:
    """The commit of ``revision`` in the local Hugging Face cache (or the Hub), if known."""
    if Path(model).exists():
        return None
    try:
        from huggingface_hub import snapshot_download
    except ModuleNotFoundError:
        return None
    try:
        path = snapshot_download(model, revision=revision, allow_patterns=["config.json"])
    except Exception as e:  # noqa: BLE001 - offline or gated: vLLM will say what is wrong
        log.warning("could not resolve %s@%s to a commit: %s", model, revision, e)
        return None
    return Path(path).name  # .../snapshots/<commit>
