"""rdtheory.figures.predictions: predicted rates on every bundled accelerator follow its bandwidth."""

import pytest

from rdtheory.costs.hardware import load_hardware
from rdtheory.figures import predictions


def test_hardware_predictions_follow_bandwidth():
    preds = {p.hardware: p for p in predictions.hardware_predictions()}
    assert set(preds) == set(load_hardware()) and all(p.error is None for p in preds.values())
    by_bandwidth = sorted(preds, key=lambda n: load_hardware()[n].bandwidth_bytes_per_s)
    assert by_bandwidth == sorted(preds, key=lambda n: preds[n].ar.tokens_per_s)  # AR at batch 1 is memory-bound
    assert all(p.speedup > 3 for p in preds.values())
    assert predictions.workload() == (64, 48)
    with pytest.raises(ValueError, match=r"kind='fp8' must be one of"):
        predictions.measured_rate("fp8", predictions.AR_CASE)


RENDERERS = {
    "predictions": lambda: predictions.predictions_figure(
        predictions.hardware_predictions(), [predictions.measured_rate("eager", predictions.AR_CASE)]),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
