"""`RavenConfig`: Huginn's config.json as a transformers config (model_type "huginn_raven")."""

from typing import Any

from transformers import PretrainedConfig

from rdtheory.config import ModelConfig


class RavenConfig(PretrainedConfig):
    """Holds Huginn's config.json fields; `model_config()` gives the validated `ModelConfig`."""

    model_type = "huginn_raven"

    def __init__(self, tie_embeddings: bool = True, **kwargs: Any) -> None:
        kwargs.pop("tie_word_embeddings", None)
        self.tie_embeddings = tie_embeddings
        super().__init__(tie_word_embeddings=tie_embeddings, **kwargs)

    def model_config(self) -> ModelConfig:
        return ModelConfig.from_huggingface(self.to_dict())

    @classmethod
    def from_model_config(cls, config: ModelConfig) -> "RavenConfig":
        return cls(**config.to_huggingface())
