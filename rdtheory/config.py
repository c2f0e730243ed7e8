"""Model configuration: the shapes of a Huginn-style recurrent-depth model.

Owns `ModelConfig` (frozen, validated at construction), its translation from and to Huginn's config.json
field names, and the presets `TINY` and `HUGINN_0125`. Knows nothing about torch, samplers or hardware.
"""

import dataclasses
import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Architecture choices Huginn's config.json spells as class names. We implement exactly one of each; any other
# value describes a different model, so reading it is an error rather than a silent substitution.
_FIXED_CHOICES = {
    "architecture_class_name": "RecurrentGPT",
    "block_class_name": "SandwichBlock",
    "norm_class_name": "RMSNorm_llama",
    "mlp_class_name": "GatedMLP",
    "nonlin_name": "SiLU",
    "injection_type": "linear",
    "state_init": "like-init",
}
# Keys that carry no architecture (bookkeeping, training-only settings, transformers' generic fields).
_INFORMATIONAL = {
    "name", "model_type", "architectures", "auto_map", "transformers_version", "torch_dtype", "dtype",
    "padding_multiple", "init_strategy", "init_orthogonal", "activation_checkpoint_impl", "sampling_scheme",
    "effective_expected_depth", "use_cache", "return_dict", "output_hidden_states", "output_attentions",
    "_name_or_path", "tie_word_embeddings", "is_encoder_decoder", "chunk_size_feed_forward",
    "torchscript", "id2label", "label2id", "problem_type", "tokenizer_class", "initializer_range",
    "max_position_embeddings", "rope_theta", "num_hidden_layers", "hidden_size", "num_attention_heads",
    "add_cross_attention", "cross_attention_hidden_size", "decoder_start_token_id", "task_specific_params",
    "prefix", "sep_token_id", "finetuning_task", "pruned_heads", "tf_legacy_loss", "use_bfloat16",
    "is_decoder", "output_scores", "return_dict_in_generate", "layer_types", "rope_scaling",
    "rope_parameters", "tie_encoder_decoder",
}


@dataclass(frozen=True)
class ModelConfig:
    """Shapes and constants of a recurrent-depth model (prelude, recurrent core with input injection, coda).

    Field names follow Huginn's config.json where one exists; `from_huggingface` and `to_huggingface` translate.
    """

    vocab_size: int
    n_embd: int
    n_heads: int
    n_layers_in_prelude: int
    n_layers_in_recurrent_block: int
    n_layers_in_coda: int
    intermediate_size: int
    block_size: int
    mean_recurrence: int
    mean_backprop_depth: int
    rope_base: float = 50_000.0
    norm_eps: float = 1e-6
    qk_bias: bool = True
    tie_embeddings: bool = True
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()
    pad_token_id: int | None = None

    def __post_init__(self) -> None:
        self._check_types()
        for name in ("vocab_size", "n_embd", "n_heads", "n_layers_in_recurrent_block", "intermediate_size",
                     "block_size", "mean_recurrence"):
            _require(name, getattr(self, name), getattr(self, name) >= 1, "must be >= 1")
        for name in ("n_layers_in_prelude", "n_layers_in_coda", "mean_backprop_depth"):
            _require(name, getattr(self, name), getattr(self, name) >= 0, "must be >= 0")
        _require("n_embd", self.n_embd, self.n_embd % self.n_heads == 0,
                 f"must be divisible by n_heads={self.n_heads}")
        _require("n_embd", self.n_embd, (self.n_embd // self.n_heads) % 2 == 0,
                 f"must give an even head_dim (rotary pairs); n_embd/n_heads={self.n_embd / self.n_heads}")
        _require("rope_base", self.rope_base, self.rope_base > 1, "must be > 1")
        _require("norm_eps", self.norm_eps, self.norm_eps > 0, "must be > 0")
        for name in ("rope_base", "norm_eps"):
            _require(name, getattr(self, name), math.isfinite(getattr(self, name)), "must be finite")
        for name in ("bos_token_id", "pad_token_id"):
            value = getattr(self, name)
            _require(name, value, value is None or 0 <= value < self.vocab_size,
                     f"must lie in [0, vocab_size={self.vocab_size})")
        for tok in self.eos_token_ids:
            _require("eos_token_ids", self.eos_token_ids, 0 <= tok < self.vocab_size,
                     f"every id must lie in [0, vocab_size={self.vocab_size})")

    def _check_types(self) -> None:
        # Comparisons below would accept 3.5 or True for a layer count, or raise a bare TypeError for "32".
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _BOOL_FIELDS:
                ok, kind = isinstance(value, bool), "a bool"
            elif f.name in _REAL_FIELDS:
                ok, kind = _is_real(value), "a real number"
            elif f.name in _OPTIONAL_INT_FIELDS:
                ok, kind = value is None or _is_int(value), "an int or None"
            elif f.name == "eos_token_ids":
                ok = isinstance(value, tuple) and all(_is_int(tok) for tok in value)
                kind = "a tuple of ints"
            else:
                ok, kind = _is_int(value), "an int"
            if not ok:
                raise TypeError(f"{f.name}={value!r} must be {kind}, not {type(value).__name__}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_heads

    @property
    def n_layers(self) -> int:
        return self.n_layers_in_prelude + self.n_layers_in_recurrent_block + self.n_layers_in_coda

    @property
    def embed_scale(self) -> float:
        """Token embeddings are multiplied by sqrt(n_embd)."""
        return math.sqrt(self.n_embd)

    @property
    def init_std(self) -> float:
        """Huginn's base standard deviation sqrt(2 / (5 h)), used for weights and the state initialisation."""
        return math.sqrt(2.0 / (5.0 * self.n_embd))

    @property
    def effective_expected_depth(self) -> int:
        core = self.n_layers_in_recurrent_block * self.mean_recurrence
        return self.n_layers_in_prelude + self.n_layers_in_coda + core

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    # ----------------------------------------------------------------------------------------- Huginn's config.json

    @classmethod
    def from_huggingface(cls, raw: dict[str, Any]) -> "ModelConfig":
        """Read Huginn's config.json fields. Architecture-changing values we do not implement are errors; a
        missing required field is a ValueError and a field of the wrong type a TypeError, each naming the field."""
        if not isinstance(raw, Mapping):
            raise TypeError(f"config.json must hold a JSON object of fields, not {type(raw).__name__}: {raw!r:.80}")
        raw = dict(raw)
        for key, expected in _FIXED_CHOICES.items():
            if key in raw and raw[key] != expected:
                raise ValueError(f"config.json {key}={raw[key]!r} is not supported; only {expected!r} is implemented")
        if raw.get("bias", False):
            raise ValueError(f"config.json bias={raw['bias']!r} is not supported; Huginn has no linear biases")
        if raw.get("test_time_noise", 0):
            raise ValueError(f"config.json test_time_noise={raw['test_time_noise']!r} is not supported; must be 0")
        for key in ("num_key_value_heads", "n_layers", "head_dim", "vocab_size"):
            if key in raw and not _is_int(raw[key]):
                raise TypeError(f"config.json {key}={raw[key]!r} must be an int, not {type(raw[key]).__name__}")
        n_heads = _field(raw, "n_heads", "num_attention_heads")
        if raw.get("num_key_value_heads", n_heads) != n_heads:
            raise ValueError(f"config.json num_key_value_heads={raw['num_key_value_heads']!r} must equal "
                             f"n_heads={n_heads!r}: Huginn uses full multi-head attention")
        vocab = _field(raw, "padded_vocab_size", "vocab_size")
        eos = raw.get("eos_token_id")
        eos_ids = () if eos is None else (tuple(eos) if isinstance(eos, (list, tuple)) else (eos,))
        config = cls(
            vocab_size=vocab,
            n_embd=_field(raw, "n_embd", "hidden_size"),
            n_heads=n_heads,
            n_layers_in_prelude=_field(raw, "n_layers_in_prelude"),
            n_layers_in_recurrent_block=_field(raw, "n_layers_in_recurrent_block"),
            n_layers_in_coda=_field(raw, "n_layers_in_coda"),
            intermediate_size=_field(raw, "intermediate_size"),
            block_size=_field(raw, "block_size"),
            mean_recurrence=_field(raw, "mean_recurrence"),
            mean_backprop_depth=raw.get("mean_backprop_depth", 0),
            rope_base=_as_float(raw.get("rope_base", 50_000.0)),
            norm_eps=_as_float(raw.get("norm_eps", 1e-6)),
            qk_bias=raw.get("qk_bias", True),
            tie_embeddings=raw.get("tie_embeddings", True),
            bos_token_id=raw.get("bos_token_id"),
            eos_token_ids=eos_ids,
            pad_token_id=raw.get("pad_token_id"),
        )
        if "n_layers" in raw and raw["n_layers"] != config.n_layers:
            raise ValueError(f"config.json n_layers={raw['n_layers']} must equal prelude + core + coda = "
                             f"{config.n_layers}")
        if "head_dim" in raw and raw["head_dim"] != config.head_dim:
            raise ValueError(f"config.json head_dim={raw['head_dim']} must equal n_embd/n_heads = {config.head_dim}")
        if "vocab_size" in raw and raw["vocab_size"] > config.vocab_size:
            raise ValueError(f"config.json vocab_size={raw['vocab_size']} exceeds padded_vocab_size={vocab}")
        known = set(_FIXED_CHOICES) | _INFORMATIONAL | {
            "bias", "test_time_noise", "n_heads", "num_key_value_heads", "n_embd", "padded_vocab_size",
            "vocab_size", "eos_token_id", "n_layers", "head_dim", "bos_token_id", "pad_token_id",
        } | {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            warnings.warn(f"config.json keys not understood and ignored: {unknown}", stacklevel=2)
        return config

    def to_huggingface(self) -> dict[str, Any]:
        """Huginn's config.json fields for this config (the layout `from_huggingface` reads)."""
        return {
            "model_type": "huginn_raven",
            "architectures": ["RavenForCausalLM"],
            **_FIXED_CHOICES,
            "n_embd": self.n_embd,
            "n_heads": self.n_heads,
            "num_key_value_heads": self.n_heads,
            "head_dim": self.head_dim,
            "n_layers": self.n_layers,
            "n_layers_in_prelude": self.n_layers_in_prelude,
            "n_layers_in_recurrent_block": self.n_layers_in_recurrent_block,
            "n_layers_in_coda": self.n_layers_in_coda,
            "vocab_size": self.vocab_size,
            "padded_vocab_size": self.vocab_size,
            "block_size": self.block_size,
            "intermediate_size": self.intermediate_size,
            "bias": False,
            "qk_bias": self.qk_bias,
            "rope_base": self.rope_base,
            "norm_eps": self.norm_eps,
            "tie_embeddings": self.tie_embeddings,
            "mean_recurrence": self.mean_recurrence,
            "mean_backprop_depth": self.mean_backprop_depth,
            "sampling_scheme": "poisson-lognormal-filling",
            "init_strategy": "takase",
            "test_time_noise": 0,
            "effective_expected_depth": self.effective_expected_depth,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": list(self.eos_token_ids),
            "pad_token_id": self.pad_token_id,
        }


def _require(name: str, value: Any, ok: bool, rule: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} {rule}")


_BOOL_FIELDS = {"qk_bias", "tie_embeddings"}
_REAL_FIELDS = {"rope_base", "norm_eps"}
_OPTIONAL_INT_FIELDS = {"bos_token_id", "pad_token_id"}


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python, but True for a layer count is a mistake, not a 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _as_float(value: Any) -> Any:
    """JSON writes 50000.0 as 50000 at times: an int becomes a float (one too large for a float becomes inf, which
    validation refuses); anything else is left for validation."""
    if not _is_int(value):
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _field(raw: dict[str, Any], *names: str) -> Any:
    """The first of `names` present in config.json (several names are aliases of one field)."""
    for name in names:
        if name in raw:
            return raw[name]
    spelled = " or ".join(repr(n) for n in names)
    raise ValueError(f"config.json lacks the required field {spelled}")


HUGINN_0125 = ModelConfig(
    vocab_size=65_536,
    n_embd=5280,
    n_heads=55,
    n_layers_in_prelude=2,
    n_layers_in_recurrent_block=4,
    n_layers_in_coda=2,
    intermediate_size=17_920,
    block_size=4096,
    mean_recurrence=32,
    mean_backprop_depth=8,
    rope_base=50_000.0,
    norm_eps=1e-6,
    bos_token_id=65_504,
    eos_token_ids=(65_505, 65_508),
    pad_token_id=65_509,
)
"""Huginn-0125 (3.5B): exact shapes of the released checkpoint."""

TINY = ModelConfig(
    vocab_size=64,
    n_embd=32,
    n_heads=4,
    n_layers_in_prelude=1,
    n_layers_in_recurrent_block=2,
    n_layers_in_coda=1,
    intermediate_size=64,
    block_size=128,
    mean_recurrence=8,
    mean_backprop_depth=2,
)
"""A Huginn-shaped model small enough for CPU tests in seconds (same layer layout, smaller everything)."""
