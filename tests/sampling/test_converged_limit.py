"""Remark 3.1 made precise: on contractive models, diffusion forcing with LatentDiff(eps) commits latents within
the theorem's bound C * eps of the AR fixed point, and its tokens equal the fixed-point tokens wherever the logit
margin exceeds the bound (rdtheory.theory.convergence states the theorem and its assumptions)."""

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rdtheory import ShareLast
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import LatentDiff
from rdtheory.sampling.schedules import Constant, Linear
from rdtheory.testing.contraction import step_constants
from rdtheory.testing.models import random_model
from rdtheory.testing.strategies import contractive_models, prompts
from rdtheory.theory import committed_error_bound

FIXED_POINT_DEPTH = 300  # lam <= 0.9 gives lam^300 < 2e-14: the reference is the fixed point to rounding
EPSILONS = (1e-3, 1e-6)


def fixed_point(model, prompt, n):
    """AR at a depth where every position has converged: tokens, and the states of every run position."""
    ar = generate_ar(model, [prompt], n, FIXED_POINT_DEPTH, init_scale=0.0, kv=ShareLast(), stop_tokens=())
    ids = torch.tensor(prompt + ar.tokens[0][:-1])
    _, states = model(ids[None], FIXED_POINT_DEPTH)
    return ar, ids, states[0]


SCREEN_DEPTH = 60


def screened_out(model, prompt) -> bool:
    """A cheap look at the prompt's states after SCREEN_DEPTH steps: a step constant >= 0.9 there means the model
    is unlikely to pass the lam < 0.9 filter at the fixed point, so the 300-step reference is not worth computing."""
    ids = torch.tensor(prompt)
    _, states = model(ids[None], SCREEN_DEPTH)
    return max(step_constants(model, ids, states[0]).lam) >= 0.9


def test_df_commits_within_the_bound_of_the_fixed_point():
    seen = {"depth_mattered": 0, "margin_certified": 0, "wide": 0, "examples": 0}

    @settings(max_examples=8)
    @given(model=contractive_models(), inner=st.integers(1, 3), cap=st.sampled_from([1, 2, 8]),
           headway=st.sampled_from([1, 2]), init_scale=st.sampled_from([0.0, 1.0]), data=st.data())
    def check(model, inner, cap, headway, init_scale, data):
        prompt = data.draw(prompts(model.config.vocab_size, 2, 4))
        n = 5
        assume(not screened_out(model, prompt))
        ar, ids, z_star = fixed_point(model, prompt, n)
        c = step_constants(model, ids, z_star)
        lam, cond = max(c.lam), max(c.cond)
        assume(lam < 0.9)
        shallow = generate_ar(model, [prompt], n, 1, init_scale=0.0, stop_tokens=())
        seen["depth_mattered"] += shallow.tokens != ar.tokens
        seen["examples"] += 1
        p0 = len(prompt)
        logits_star = model(ids[None], FIXED_POINT_DEPTH)[0][0]
        for eps in EPSILONS:
            df = generate_df(model, [prompt], n, inner=inner, depth=FIXED_POINT_DEPTH, exit=LatentDiff(eps),
                             max_wavefront=cap, headway=headway, ema=0.0, init_scale=init_scale,
                             max_depth=100_000, kv=ShareLast(), stop_tokens=(), seed=4)
            seen["wide"] += any(len(b.firsts) > 1 for t in df.trace.ticks[1:] for b in t.blocks)
            bound_norm = max(df.latents[0].norm(dim=-1).max().item(), z_star.norm(dim=-1).max().item())
            bounds = []
            for i in range(n - 1):  # wave position p0 + i commits new token i + 1
                pos = p0 + i
                if df.tokens[0][: i + 1] != ar.tokens[0][: i + 1]:
                    break  # (A5): the inputs differ from the reference from here on
                bound = committed_error_bound(lam, eps, bound_norm, cond, i, inner)
                err = (df.latents[0][i + 1] - z_star[pos]).norm().item()
                assert err <= bound, (eps, i, err, bound)
                bounds.append(bound)
                top2 = logits_star[pos].topk(2).values
                logit_err = c.dec_self[pos] * bound + c.dec_cond[pos] * max(bounds)
                if (top2[0] - top2[1]).item() > 2 * logit_err:
                    seen["margin_certified"] += 1
                    assert df.tokens[0][i + 1] == ar.tokens[0][i + 1], (eps, i)

    check()
    assert seen["examples"] >= 5, seen
    assert seen["depth_mattered"] >= 0.3 * seen["examples"], seen
    assert seen["margin_certified"] >= 2 * seen["examples"], seen
    assert seen["wide"] >= seen["examples"], seen


def contractive(seed):
    from rdtheory.config import ModelConfig

    config = ModelConfig(vocab_size=24, n_embd=16, n_heads=2, n_layers_in_prelude=1, n_layers_in_recurrent_block=2,
                         n_layers_in_coda=1, intermediate_size=16, block_size=64, mean_recurrence=4,
                         mean_backprop_depth=1)
    return random_model(config, seed, gain=2.0, state_gain=0.45)


def errors(model, prompt, eps, reference=None, **knobs):
    """Largest committed-latent error of DF against the fixed point (`reference`: fixed_point(model, prompt, 4),
    computed when not given); None when the tokens differ."""
    ar, _, z_star = fixed_point(model, prompt, 4) if reference is None else reference
    df = generate_df(model, [prompt], 4, inner=2, depth=FIXED_POINT_DEPTH, exit=LatentDiff(eps), max_depth=100_000,
                     max_wavefront=4, kv=ShareLast(), stop_tokens=(), init_scale=1.0, seed=1, **knobs)
    if df.tokens != ar.tokens:
        return None
    p0 = len(prompt)
    return max((df.latents[0][i + 1] - z_star[p0 + i]).norm().item() for i in range(3))


def test_with_an_ema_the_limit_still_holds_but_not_at_rate_eps():
    """eta > 0 is outside (A5): the EMA residual decays geometrically in the ticks a position spends with its
    final inputs, so the error still vanishes as eps -> 0."""
    for seed in range(3):
        model = contractive(seed)
        reference = fixed_point(model, [1, 2, 3], 4)
        errs = [errors(model, [1, 2, 3], eps, reference, ema=0.5) for eps in (1e-3, 1e-6, 1e-9)]
        assert None not in errs and errs[-1] < 1e-6 and errs[-1] < errs[0], errs


def test_noise_that_does_not_vanish_leaves_an_error_floor():
    """Counterexample to 'for any beta': a constant beta re-injects noise every tick, so the committed latents
    stay a fixed distance from the fixed point however small eps is (the exits are then forced by max_depth, or
    never come: we cap the run and compare what it committed). A linear schedule reaches zero and converges."""
    model = contractive(0)
    reference = fixed_point(model, [1, 2, 3], 4)
    floor = errors(model, [1, 2, 3], 1e-9, reference, noise=Linear(0.3, 8))
    assert floor is not None and floor < 1e-6
    ar, _, z_star = reference
    df = generate_df(model, [[1, 2, 3]], 4, inner=2, depth=FIXED_POINT_DEPTH, exit=LatentDiff(1e-9), max_depth=60,
                     max_wavefront=4, kv=ShareLast(), stop_tokens=(), init_scale=1.0, seed=1, noise=Constant(0.3))
    gap = (df.latents[0][1] - z_star[3]).norm().item()
    assert gap > 1e-3, gap
