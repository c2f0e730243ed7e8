"""The AR samplers against the plain oracle, batch independence, exit rules, stops, statistics."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory import TINY, PerStep, ShareLast
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.exits import KLDiff, LatentDiff, TokenStability
from rdtheory.sampling.tokens import Sampling
from rdtheory.testing.models import random_model
from rdtheory.testing.oracle import oracle_generate
from rdtheory.testing.strategies import depth_sensitive_models, kv_policies, prompt_batches, prompts


@st.composite
def ragged_batches(draw: st.DrawFn, vocab_size: int) -> list[list[int]]:
    """2-3 prompts, at least two of them of different lengths."""
    lengths = draw(st.lists(st.integers(1, 6), min_size=2, max_size=3).filter(lambda n: len(set(n)) >= 2))
    return [draw(prompts(vocab_size, n, n)) for n in lengths]


exit_rules = st.one_of(st.floats(0.05, 1.0).map(LatentDiff), st.floats(1e-3, 0.5).map(KLDiff),
                       st.integers(0, 2).map(TokenStability))


def test_static_ar_equals_the_oracle_row_by_row():
    depth_mattered = []

    @settings(max_examples=25)
    @given(model=depth_sensitive_models(), kv=kv_policies(), depth=st.integers(2, 5),
           init_scale=st.sampled_from([0.0, 1.0]), seed=st.integers(0, 99), data=st.data())
    def check(model, kv, depth, init_scale, seed, data):
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.integers(1, 6))
        got = generate_ar(model, batch, n, depth, init_scale=init_scale, kv=kv, seed=seed)
        for b, prompt in enumerate(batch):
            want = oracle_generate(model, prompt, n, kv, depth=depth, init_scale=init_scale, seed=seed, row=b)
            assert got.tokens[b] == want.tokens
            torch.testing.assert_close(got.latents[b], want.latents, rtol=1e-9, atol=1e-9)
        shallow = generate_ar(model, batch, n, 1, init_scale=init_scale, kv=kv, seed=seed)
        depth_mattered.append(shallow.tokens != got.tokens)

    check()
    share = sum(depth_mattered) / len(depth_mattered)
    assert share >= 0.5, f"depth changed the tokens in only {share:.0%} of the examples"


def test_adaptive_ar_equals_the_oracle_row_by_row():
    exits_varied = []

    @settings(max_examples=25)
    @given(model=depth_sensitive_models(), kv=kv_policies(), rule=exit_rules, max_depth=st.integers(3, 8),
           check_every=st.integers(1, 2), min_depth=st.integers(1, 2), data=st.data())
    def check(model, kv, rule, max_depth, check_every, min_depth, data):
        min_depth = min(min_depth, max_depth)
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.integers(2, 6))
        got = generate_adaptive(model, batch, n, rule, max_depth=max_depth, min_depth=min_depth,
                                check_every=check_every, init_scale=0.0, kv=kv)
        for b, prompt in enumerate(batch):
            want = oracle_generate(model, prompt, n, kv, exit=rule, max_depth=max_depth, min_depth=min_depth,
                                   check_every=check_every, row=b)
            assert got.tokens[b] == want.tokens
            torch.testing.assert_close(got.latents[b], want.latents, rtol=1e-9, atol=1e-9)
            depths = got.trace.recurrences(b)
            assert [depths[len(prompt) - 1 + i] for i in range(len(want.depths))] == want.depths
            exits_varied.append(len(set(want.depths[1:])) > 1 or want.depths[1] < max_depth)

    check()
    assert sum(exits_varied) >= 0.3 * len(exits_varied), f"exits fired early in {sum(exits_varied)} rows"


def test_adaptive_with_zero_threshold_is_static():
    """LatentDiff(0) never fires, so every token runs to max_depth: the run is static AR at that depth. Not vacuous:
    one recurrence fewer changes the tokens in a good share of examples, so an early exit would show."""
    depth_mattered = []

    @settings(max_examples=15)
    @given(model=depth_sensitive_models(), kv=kv_policies(), depth=st.integers(2, 5), data=st.data())
    def check(model, kv, depth, data):
        batch = data.draw(prompt_batches(model.config.vocab_size))
        static = generate_ar(model, batch, 4, depth, init_scale=1.0, kv=kv, seed=5)
        adaptive = generate_adaptive(model, batch, 4, LatentDiff(0.0), max_depth=depth, init_scale=1.0, kv=kv,
                                     seed=5)
        assert adaptive.tokens == static.tokens
        for b, (a, s) in enumerate(zip(adaptive.latents, static.latents)):
            assert torch.equal(a, s)
            assert set(adaptive.trace.recurrences(b).values()) == {depth}
        shallower = generate_ar(model, batch, 4, depth - 1, init_scale=1.0, kv=kv, seed=5)
        depth_mattered.append(shallower.tokens != static.tokens)

    check()
    assert sum(depth_mattered) >= 0.5 * len(depth_mattered), \
        f"one recurrence fewer changed the tokens in only {sum(depth_mattered)} of {len(depth_mattered)} examples"


def test_batch_rows_equal_single_runs():
    """Rows of different prompt lengths (every batch has at least two, by construction: batches of equal lengths
    are compared row by row with the oracle above) each equal their single-row run."""

    @settings(max_examples=15)
    @given(model=depth_sensitive_models(), kv=kv_policies(), continuous=st.booleans(), data=st.data())
    def check(model, kv, continuous, data):
        batch = data.draw(ragged_batches(model.config.vocab_size))
        assert len({len(p) for p in batch}) >= 2
        got = generate_ar(model, batch, 5, 3, init_scale=1.0, kv=kv, seed=9, continuous_compute=continuous)
        for b, prompt in enumerate(batch):
            alone = generate_ar(model, [prompt], 5, 3, init_scale=1.0, kv=kv, seed=9, row_ids=[b],
                                continuous_compute=continuous)
            assert alone.tokens[0] == got.tokens[b]
            torch.testing.assert_close(alone.latents[0], got.latents[b], rtol=1e-9, atol=1e-9)

    check()


def test_sampled_batch_rows_equal_single_runs_given_their_row_ids():
    """Sampling noise is keyed by (seed, row id, position): with row_ids=[b] a prompt run alone reproduces batch row
    b at temperature 1; run alone under its default id 0 it draws other noise, in a good share of examples other
    tokens (so the row id is what makes them equal)."""
    keyed = []
    sampling = Sampling(temperature=1.0)

    @settings(max_examples=15)
    @given(model=depth_sensitive_models(), kv=kv_policies(), adaptive=st.booleans(), seed=st.integers(0, 2**40),
           data=st.data())
    def check(model, kv, adaptive, seed, data):
        batch = data.draw(prompt_batches(model.config.vocab_size, max_batch=3))

        def run(prompts, row_ids=None):
            common = dict(sampling=sampling, init_scale=0.0, kv=kv, seed=seed, stop_tokens=(), row_ids=row_ids)
            if adaptive:
                return generate_adaptive(model, prompts, 5, LatentDiff(0.3), max_depth=4, **common)
            return generate_ar(model, prompts, 5, 3, **common)

        got = run(batch)
        for b, prompt in enumerate(batch):
            alone = run([prompt], row_ids=[b])
            assert alone.tokens[0] == got.tokens[b]
            torch.testing.assert_close(alone.latents[0], got.latents[b], rtol=1e-9, atol=1e-9)
            if b > 0:
                keyed.append(run([prompt]).tokens[0] != got.tokens[b])

    check()
    assert sum(keyed) >= 0.5 * len(keyed), f"the row id changed the sampled tokens in {sum(keyed)} of {len(keyed)} rows"


def test_continuous_compute_equals_the_oracle():
    for seed in range(4):
        model = random_model(TINY, seed)
        for kv in (ShareLast(), PerStep()):
            got = generate_ar(model, [[1, 2, 3]], 6, 3, init_scale=1.0, kv=kv, continuous_compute=True)
            want = oracle_generate(model, [1, 2, 3], 6, kv, depth=3, init_scale=1.0, continuous_compute=True)
            assert got.tokens[0] == want.tokens


def test_exit_depth_is_monotone_in_the_threshold():
    """A looser threshold never exits later. The first adaptive token (position P, decoding token 2) has the same
    context (prefill plus token 1) for every threshold, so its exit depths are comparable."""
    varied = []
    families = st.one_of(
        st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).map(lambda v: (LatentDiff, sorted(v))),
        st.lists(st.floats(0.0, 0.5), min_size=3, max_size=3).map(lambda v: (KLDiff, sorted(v))),
        st.lists(st.integers(0, 5), min_size=3, max_size=3).map(lambda v: (TokenStability, sorted(v, reverse=True))),
    )

    @settings(max_examples=30)
    @given(model=depth_sensitive_models(), sweep=families, kv=kv_policies(), check_every=st.integers(1, 2),
           init_scale=st.sampled_from([0.0, 1.0]), data=st.data())
    def check(model, sweep, kv, check_every, init_scale, data):
        prompt = data.draw(prompts(model.config.vocab_size))
        family, values = sweep  # from the strictest threshold to the loosest
        depths = []
        for v in values:
            run = generate_adaptive(model, [prompt], 2, family(v), max_depth=10, check_every=check_every,
                                    init_scale=init_scale, kv=kv, stop_tokens=())
            depths.append(run.trace.recurrences(0)[len(prompt)])
        assert depths == sorted(depths, reverse=True), (family, values, depths)
        varied.append(len(set(depths)) > 1)

    check()
    assert sum(varied) >= 0.4 * len(varied), f"the threshold changed the exit depth in only {sum(varied)} sweeps"


def test_stop_tokens_end_a_row_and_include_the_stop():
    model = random_model(TINY, 1)
    batch = [[1, 2, 3], [4, 5]]
    free = generate_ar(model, batch, 8, 3, init_scale=0.0, stop_tokens=())
    stop = free.tokens[0][3]
    first = free.tokens[0].index(stop)
    got = generate_ar(model, batch, 8, 3, init_scale=0.0, stop_tokens=[stop])
    assert got.tokens[0] == free.tokens[0][: first + 1] and got.finished[0] == "stop"
    second = free.tokens[1].index(stop) + 1 if stop in free.tokens[1] else 8
    assert got.tokens[1] == free.tokens[1][:second]
    assert all(len(t) == 8 for t in free.tokens) and free.finished == ["length", "length"]


def test_default_stop_tokens_are_the_configs_eos():
    model = random_model(TINY, 1)
    free = generate_ar(model, [[1, 2, 3]], 8, 3, init_scale=0.0, stop_tokens=())
    eos = free.tokens[0][2]
    with_eos = random_model(TINY.replace(eos_token_ids=(eos,)), 1)
    got = generate_ar(with_eos, [[1, 2, 3]], 8, 3, init_scale=0.0)
    assert got.tokens[0] == free.tokens[0][: free.tokens[0].index(eos) + 1]


def test_statistics_count_the_work():
    model = random_model(TINY, 2)
    got = generate_ar(model, [[1, 2, 3, 4], [5, 6]], 5, 3, init_scale=0.0, stop_tokens=())
    assert got.trace.n_ticks == 5  # prefill plus 4 decode steps
    assert got.trace.core_passes == 5 * 3
    assert got.trace.tokens_forwarded == (4 + 2) * 3 + 2 * 4 * 3
    assert got.trace.recurrences(0) == {p: 3 for p in range(4 + 4)}
    assert [c.pos for c in got.trace.commits(1)] == [2, 3, 4, 5, 6]


def test_max_new_tokens_zero_and_one():
    model = random_model(TINY, 2)
    assert generate_ar(model, [[1]], 0, 2).tokens == [[]]
    one = generate_ar(model, [[1, 2]], 1, 2, stop_tokens=())
    assert len(one.tokens[0]) == 1 and one.trace.n_ticks == 1
