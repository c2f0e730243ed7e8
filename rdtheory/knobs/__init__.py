"""The package's vocabulary of choices, defined once on the ground floor.

Torch-free and importing nothing else of the package, so that the model, the samplers, the theory and the cost
model all take the same objects; each choice is a small frozen object that owns its behaviour.

`kv`: how the recurrent core's keys are kept across recurrence steps (`ShareLast`, `PerStep`).
"""

from rdtheory.knobs.kv import KVPolicy, PerStep, ShareLast

__all__ = ["KVPolicy", "PerStep", "ShareLast"]
