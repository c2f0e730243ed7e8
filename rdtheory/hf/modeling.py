"""`RavenForCausalLM`: a transformers `PreTrainedModel` whose weights are a `RecurrentDepthLM`'s.

The transformers model owns the same submodules (`transformer`, `lm_head`) as the `RecurrentDepthLM` it wraps, so
the state-dict keys are Huginn's and `.lm` gives the model the samplers drive, sharing every parameter. The rotary
table is not a parameter or buffer (a dtype cast would quantise it): `from_pretrained` of a local folder reads the
stored `freqs_cis` after transformers' load and hands it to the model, as `rdtheory.load_pretrained` does.
"""

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from rdtheory.hf.configuration import RavenConfig
from rdtheory.model.checkpoint import stored_rotary_table
from rdtheory.model.layers import init_huginn_weights
from rdtheory.model.recurrent import RecurrentDepthLM


class RavenForCausalLM(PreTrainedModel):
    config_class = RavenConfig
    base_model_prefix = "transformer"
    _no_split_modules = ["SandwichBlock"]
    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}
    _keys_to_ignore_on_load_unexpected = ["freqs_cis"]

    def __init__(self, config: RavenConfig) -> None:
        super().__init__(config)
        lm = RecurrentDepthLM(config.model_config())
        object.__setattr__(self, "_lm", lm)  # not a submodule: its children are registered below under their names
        self.transformer = lm.transformer
        self.lm_head = lm.lm_head
        self.post_init()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        """transformers' `from_pretrained`, then, for a local folder, the checkpoint's stored rotary table."""
        loaded = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded  # output_loading_info=True returns a pair
        if isinstance(pretrained_model_name_or_path, (str, os.PathLike)):
            folder = Path(pretrained_model_name_or_path) / kwargs.get("subfolder", "")
            if folder.is_dir():
                table = stored_rotary_table(folder)
                if table is not None:
                    model.lm.use_rotary_table(table)
        return loaded

    @property
    def lm(self) -> RecurrentDepthLM:
        """The recurrent-depth model (shares all parameters with this one); pass it to the samplers."""
        return self._lm

    def _init_weights(self, module: torch.nn.Module) -> None:
        if module is self:
            init_huginn_weights(self, self._lm.config)

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.transformer.wte

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.lm_head

    def forward(
        self, input_ids: Tensor, labels: Tensor | None = None, num_steps: int | None = None, **_: object
    ) -> CausalLMOutput:
        """Uncached forward at depth num_steps (default mean_recurrence). Labels are already shifted, as in Huginn."""
        logits, _latents = self._lm(input_ids, num_steps=num_steps)
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return CausalLMOutput(loss=loss, logits=logits)
