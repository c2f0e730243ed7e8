"""Measuring on the GPU: timing harnesses that run on a CUDA device and write the JSON records that
`rdtheory.costs` reads.

`measure` times each stage's call over a grid of width, context and batch (`python -m rdtheory.gpu.measure`);
`bench` times whole generations of the samplers (`rdtheory bench`, or `python -m rdtheory.gpu.bench`);
`environment` records what a measurement ran on (device, driver, clocks, versions, commit) and the device's
measured ceilings. The only place in the package that needs a GPU; torch is imported inside the functions that
use it, so importing these modules needs neither torch nor CUDA. Knows nothing of how the records are fitted or
priced (`rdtheory.costs.fitting`, `rdtheory.costs.roofline`): it measures and writes.
"""
