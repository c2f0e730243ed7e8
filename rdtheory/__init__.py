"""rdtheory: recurrent-depth (looped) language models as causal diffusion models.

The public API is re-exported here and resolved lazily, so `import rdtheory` imports neither torch nor
transformers; the torch-free parts (`rdtheory.theory`, `rdtheory.costs`) stay light. After `import rdtheory`,
transformers' `AutoConfig` and `AutoModelForCausalLM` load Huginn-layout checkpoints.
"""

from importlib import import_module
from typing import Any

from rdtheory import hf as _hf
from rdtheory.config import HUGINN_0125, TINY, ModelConfig

_hf.install()

_LAZY = {
    "RecurrentDepthLM": "rdtheory.model.recurrent",
    "KVCache": "rdtheory.model.cache",
    "PerStep": "rdtheory.knobs.kv",
    "ShareLast": "rdtheory.knobs.kv",
    "load_pretrained": "rdtheory.model.checkpoint",
    "save_pretrained": "rdtheory.model.checkpoint",
    "CheckpointError": "rdtheory.model.checkpoint",
    "generate_ar": "rdtheory.sampling.autoregressive",
    "generate_adaptive": "rdtheory.sampling.autoregressive",
    "generate_df": "rdtheory.sampling.diffusion_forcing",
    "FixedDepth": "rdtheory.sampling.exits",
    "LatentDiff": "rdtheory.sampling.exits",
    "KLDiff": "rdtheory.sampling.exits",
    "TokenStability": "rdtheory.sampling.exits",
    "Sampling": "rdtheory.sampling.tokens",
    "Constant": "rdtheory.sampling.schedules",
    "Dampened": "rdtheory.sampling.schedules",
    "Linear": "rdtheory.sampling.schedules",
    "Workspace": "rdtheory.sampling.workspace",
    "Generation": "rdtheory.sampling.batch",
    "Trace": "rdtheory.sampling.trace",
}

__all__ = ["HUGINN_0125", "TINY", "ModelConfig", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rdtheory' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
