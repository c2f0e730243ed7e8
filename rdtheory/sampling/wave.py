"""One diffusion-forcing tick on the device, and the move of every row's state to its next wavefront.

Both are functions of tensors only (plus the model, its cache and the sampler's knobs), so that each can be
captured as a CUDA graph; `rdtheory.sampling.diffusion_forcing` drives them and keeps the host's bookkeeping.
"""

import torch
from torch import Tensor

from rdtheory.model.cache import KVCache
from rdtheory.model.noise import Stream, keyed_uniform
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.exits import FixedDepth
from rdtheory.sampling.finite import nonfinite_codes
from rdtheory.sampling.tokens import pick, top_ranks
from rdtheory.sampling.wavefront import exit_prefix


def tick(model: RecurrentDepthLM, cache: KVCache, k: dict, x: dict, kv_len: int, use_carry: bool) -> dict:
    """Everything a tick does on the device, as a function of tensors (capturable as one CUDA graph)."""
    m, rule = model, k["exit"]
    inner = k["inner"]
    w = x["inputs"].shape[1]
    idx = torch.arange(w, device=m.device)
    valid = idx < x["widths"][:, None]
    pos = x["heads"][:, None] + idx
    chunk = m.chunk(pos, valid, kv_len)
    p = m.embed(x["inputs"], chunk, cache)
    fresh = x["fresh"][..., None]
    start = x["carry"].expand_as(p) if use_carry else m.initial_state(chunk, k["init_scale"], k["seed"],
                                                                        x["rows"])
    z = torch.where(fresh, start, x["z"])
    memory = tuple(torch.where(_expand(x["fresh"], s), s, old)
                   for s, old in zip(rule.start(z, m.config.vocab_size), x["memory"]))
    e = p if k["ema"] == 0 else torch.where(fresh, p, p + k["ema"] * (x["e_prev"] - p))
    draws = x["draws"] + 1
    if k["noise"].active:
        eps = m.initial_state(chunk, k["init_scale"], k["seed"], x["rows"], draw=draws)
        beta = k["noise"].beta_tensor(x["counts"])[..., None].to(z.dtype)
        z = torch.sqrt(1 - beta) * z + torch.sqrt(beta) * eps if k["vp"] else (1 - beta) * z + beta * eps
    # Only the wavefront's entries recur: padding entries (a narrower row's, or a finished row's leftovers) keep
    # their counts, and their cache writes (to the trash column) use slot 1, so no count addresses a PerStep slot
    # past the allocation.
    for i in range(inner):
        step = torch.where(valid, x["counts"] + (i + 1), 1) if k["kv"].per_step else 1
        z = m.core_step(z, e, chunk, cache, step)
    logits = m.decode(z, chunk, cache)
    predicted = pick(logits, k["sampling"], k["seed"], x["rows"], pos)
    counts = torch.where(valid, x["counts"] + inner, x["counts"])
    if isinstance(rule, FixedDepth):
        verdict = counts >= rule.depth
    else:
        verdict, checked = rule.check(memory, z, logits if rule.needs_logits else None,
                                      predicted if rule.needs_logits else None, counts)
        # Below min_depth there is no check, so the rule's memory (e.g. the previous checked state) stays.
        due = counts >= k["min_depth"]
        memory = tuple(torch.where(_expand(due, new), new, old) for new, old in zip(checked, memory))
    converged = (verdict & (counts >= k["min_depth"])) | (counts >= k["max_depth"])
    draft = pos >= x["lengths"][:, None]
    exits, stop = exit_prefix(converged, valid, x["inputs"], predicted, draft, pos + 1 >= x["lengths"][:, None],
                              x["budget"], x["stops"], rule.rightmost, k["hold_stale_drafts"])
    packed = torch.cat([exits[:, None], stop[:, None].long(), x["counts"], predicted, nonfinite_codes(z, logits)],
                       dim=-1)
    return dict(packed=packed, z=z, e=e, memory=memory, counts=counts, draws=draws, predicted=predicted,
                exits=exits, pos=pos, top=top_ranks(logits))


def move(model: RecurrentDepthLM, k: dict, x: dict, new_w: int) -> dict:
    """Shift each row's tensors so index 0 is its new head, replace drafts by this tick's predictions, and lay
    out the appended positions (prompt tokens, then the first draft, then fillers)."""
    out, dev = x["out"], model.device
    kept, heads, last = x["plan"][0][:, None], x["plan"][1][:, None], x["plan"][2]
    b, w = x["inputs"].shape
    rows = torch.arange(b, device=dev)
    j = torch.arange(new_w, device=dev)[None]
    src = (j + out["exits"][:, None]).clamp(max=max(w - 1, 0))
    is_new = j >= kept
    predicted = out["predicted"]
    left = torch.cat([predicted[:, :1], predicted[:, :-1]], dim=-1)
    draft = out["pos"] >= x["lengths"][:, None]
    updated = torch.where(draft & (torch.arange(w, device=dev) > 0), left, x["inputs"])
    new_pos = heads + j
    first_new = predicted[rows, last][:, None]
    if k["headway"] > 1:
        filler = (keyed_uniform(k["seed"], Stream.PLACEHOLDER, x["rows"], new_pos, 0, 1)[..., 0]
                  * model.config.vocab_size).long()
    else:
        filler = first_new.expand_as(new_pos)  # never used: one position enters per tick
    from_prompt = x["ids"][rows[:, None], new_pos.clamp(max=x["ids"].shape[1] - 1)]
    appended = torch.where(new_pos < x["lengths"][:, None], from_prompt,
                           torch.where(j == kept, first_new, filler))
    return dict(
        inputs=torch.where(is_new, appended, gather_rows(updated, src)),
        counts=torch.where(is_new, 0, gather_rows(out["counts"], src)),
        draws=torch.where(is_new, 0, gather_rows(out["draws"], src)),
        fresh=is_new, carry=out["z"][rows, last][:, None], z=gather_rows(out["z"], src),
        e_prev=gather_rows(out["e"], src), memory=tuple(gather_rows(t, src) for t in out["memory"]),
    )


def gather_rows(t: Tensor, idx: Tensor) -> Tensor:
    """t [B, W, ...] -> [B, W', ...] taking t[b, idx[b, w]]."""
    if t.shape[1] == 0:
        return t.new_zeros(t.shape[0], idx.shape[1], *t.shape[2:])
    return t[torch.arange(t.shape[0], device=t.device)[:, None], idx]


def _expand(mask: Tensor, like: Tensor) -> Tensor:
    return mask.reshape(*mask.shape, *([1] * (like.dim() - mask.dim())))
