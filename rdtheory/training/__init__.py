"""Training a small recurrent-depth model the way Huginn was trained, on a task that needs serial steps.

`task` generates the data and owns the character vocabulary; `recipe` is randomized unrolling with truncated
backpropagation; `train` is the command that produces the shipped model; `evaluate` measures what its model card
reports.
"""
