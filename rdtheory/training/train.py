"""Train the shipped looped model (python -m rdtheory.training.train --out DIR): reproducible from a seed.

Training runs with deterministic kernels (`deterministic`): the same seed, options, device type and software stack
give the same weights bit for bit (different GPUs or library versions may round differently). AdamW (lr 2e-3,
betas 0.9/0.95, weight decay 0.1 on matrices), linear warm-up then cosine decay to a tenth, gradient clipping at 1,
batches of fresh grid-reachability examples. Writes a Huginn-layout checkpoint (config.json, model.safetensors), the
vocabulary (tokenizer.json) and the training log (training.json) to DIR.
"""

import argparse
import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from rdtheory.model.checkpoint import save_pretrained
from rdtheory.model.layers import rotary_table
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.training.recipe import (
    LOOPED_TINY,
    answer_token_accuracy,
    batch_tensors,
    loss_at_depth,
    lr_factor,
    sample_depth,
    teacher_forced_accuracy,
)
from rdtheory.training.task import HELD_OUT_SEED, VOCAB, dataset, encode, example


@contextmanager
def deterministic() -> Iterator[None]:
    """Deterministic kernels while training: `torch.use_deterministic_algorithms`, cuBLAS with a fixed workspace
    (CUBLAS_WORKSPACE_CONFIG, set to ":4096:8" unless given) and the math attention kernel (the fused attention
    kernels' backward passes accumulate in a run-dependent order). The previous setting is restored afterwards."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.use_deterministic_algorithms(before)


def train(out: Path, steps: int, batch: int, seed: int, device: str, lr: float = 2e-3, log_every: int = 250,
          max_seconds: float | None = None, mean_recurrence: int | None = None, eval_examples: int = 256,
          task: dict | None = None, shape: dict | None = None, stop_at: int | None = None) -> dict:
    """Train for `steps` steps of the schedule, or fewer: until `max_seconds` have passed (timing-dependent) or up to
    step `stop_at` (deterministic: what a timed-out run did, repeated); where it stopped is recorded."""
    with deterministic():
        return _train(out, steps, batch, seed, device, lr, log_every, max_seconds, mean_recurrence, eval_examples,
                      task, shape, stop_at)


def _train(out: Path, steps: int, batch: int, seed: int, device: str, lr: float, log_every: int,
           max_seconds: float | None, mean_recurrence: int | None, eval_examples: int, task: dict | None,
           shape: dict | None, stop_at: int | None) -> dict:
    task, shape = dict(task or {}), dict(shape or {})
    if stop_at is not None and not 1 <= stop_at <= steps:
        raise ValueError(f"stop_at={stop_at!r} must be in [1, steps={steps}]")
    config = replace(LOOPED_TINY, **shape, **({} if mean_recurrence is None else {"mean_recurrence": mean_recurrence}))
    torch.manual_seed(seed)
    model = RecurrentDepthLM(config).to(device).train()
    # The shipped weights were trained with the exact (float64) rotary table rounded to float32, which their
    # checkpoint stores; training keeps that table so that the recorded command repeats them bit for bit.
    model.use_rotary_table(rotary_table(config, torch.float64).float())
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps))
    rng = random.Random(seed)
    held_out = dataset(HELD_OUT_SEED, eval_examples, **task)
    longest = max(len(encode(ex.text)) for ex in held_out)
    if longest > config.block_size:
        raise ValueError(f"task={task!r} writes examples of {longest} tokens, more than the model's block_size="
                         f"{config.block_size}")
    log, start = [], time.time()
    stopped_at = None
    for step in range(steps):
        if (max_seconds is not None and time.time() - start > max_seconds) or step == stop_at:
            stopped_at = step
            print(json.dumps({"stopped_at": step, "seconds": time.time() - start}), flush=True)
            break
        examples = [example(rng, **task) for _ in range(batch)]
        ids, valid, targets = batch_tensors(examples, device)
        nograd, grad = sample_depth(rng, config.mean_recurrence, config.mean_backprop_depth)
        loss = loss_at_depth(model, ids, valid, targets, nograd, grad, seed=seed * 1_000_003 + step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        if step % log_every == 0 or step == steps - 1:
            model.eval()
            acc = {f"accuracy_r{r}": teacher_forced_accuracy(model, held_out, r, device) for r in (1, 2, 4, 8, 16, 32)}
            acc |= {f"token_accuracy_r{r}": answer_token_accuracy(model, held_out, r, device) for r in (1, 4, 16)}
            model.train()
            log.append({"step": step, "loss": loss.item(), "depth": nograd + grad, "seconds": time.time() - start,
                        **acc})
            print(json.dumps(log[-1]), flush=True)
    model.eval()
    save_pretrained(model.float().cpu(), out)
    (out / "tokenizer.json").write_text(json.dumps({"vocab": list(VOCAB), "bos": "<bos>", "eos": "<eos>",
                                                     "pad": "<pad>"}, indent=1) + "\n")
    record = {"seed": seed, "mean_recurrence": config.mean_recurrence, "steps": steps, "stopped_at": stopped_at,
              "task": task, "shape": shape, "batch": batch, "lr": lr, "device": device,
              "device_name": torch.cuda.get_device_name() if str(device).startswith("cuda") else "cpu", "log": log,
              "seconds": time.time() - start, "torch": torch.__version__,
              "deterministic": torch.are_deterministic_algorithms_enabled(),
              "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--log-every", type=int, default=250)
    p.add_argument("--mean-recurrence", type=int, default=None, help="override the recipe's mean depth")
    p.add_argument("--max-seconds", type=float, default=None, help="stop early (recorded) after this long")
    p.add_argument("--stop-at", type=int, default=None, help="stop early (recorded) at this step of the schedule")
    p.add_argument("--size", type=int, default=None, help="grid size (default: the task's)")
    p.add_argument("--walls", type=float, nargs=2, default=None, help="wall density range (default: the task's)")
    p.add_argument("--min-reachable", type=int, default=None, help="redraw grids with fewer reachable cells in the "
                   "last row (default: the task's)")
    p.add_argument("--prelude-layers", type=int, default=None, help="layers of the prelude (default: the recipe's)")
    p.add_argument("--core-layers", type=int, default=None, help="layers of the recurrent block (default: the "
                   "recipe's)")
    p.add_argument("--coda-layers", type=int, default=None, help="layers of the coda (default: the recipe's)")
    p.add_argument("--block-size", type=int, default=None, help="context length (default: the recipe's)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p


def knobs(args: argparse.Namespace) -> tuple[dict, dict]:
    """(task, shape): the task's and the model's options given on the command line, as `train` records them."""
    task = {k: v for k, v in (("size", args.size), ("walls", list(args.walls) if args.walls else None),
                              ("min_reachable", args.min_reachable)) if v is not None}
    shape = {k: v for k, v in (("n_layers_in_prelude", args.prelude_layers),
                               ("n_layers_in_recurrent_block", args.core_layers),
                               ("n_layers_in_coda", args.coda_layers), ("block_size", args.block_size))
             if v is not None}
    return task, shape


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    task, shape = knobs(args)
    train(args.out, args.steps, args.batch, args.seed, args.device, args.lr, args.log_every, args.max_seconds,
          args.mean_recurrence, task=task, shape=shape, stop_at=args.stop_at)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
