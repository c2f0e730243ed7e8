"""transformers integration: `AutoConfig` and `AutoModelForCausalLM` load Huginn-layout checkpoints after
`import rdtheory`, offline.

Importing transformers' model classes costs seconds, so nothing here is imported by `import rdtheory`. `install()`
registers the classes at once if transformers' auto modules are already loaded, and otherwise arranges for them to
be registered the moment those modules are first imported.
"""

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

_CONFIG_AUTO = "transformers.models.auto.configuration_auto"
_MODEL_AUTO = "transformers.models.auto.modeling_auto"


def _register_config() -> None:
    from transformers import AutoConfig

    from rdtheory.hf.configuration import RavenConfig

    AutoConfig.register(RavenConfig.model_type, RavenConfig, exist_ok=True)


def _register_model() -> None:
    from transformers import AutoModelForCausalLM

    from rdtheory.hf.configuration import RavenConfig
    from rdtheory.hf.modeling import RavenForCausalLM

    AutoModelForCausalLM.register(RavenConfig, RavenForCausalLM, exist_ok=True)


_HOOKS = {_CONFIG_AUTO: _register_config, _MODEL_AUTO: _register_model}


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Finds the two auto modules through the normal path finder and runs our registration after each executes."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        hook = _HOOKS.get(fullname)
        if hook is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            hook()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]  # this spec's loader only
        return spec


def install() -> None:
    """Register now where transformers' auto modules are loaded; otherwise register when they load."""
    pending = False
    for name, hook in _HOOKS.items():
        if name in sys.modules:
            hook()
        else:
            pending = True
    if pending and not any(isinstance(f, _RegisterAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())
