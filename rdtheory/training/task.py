"""Interleaved running sums: a task whose answers need serial steps, with a character vocabulary built in code.

An example holds `chains` digit sequences written in groups, one digit of every chain per group, and asks for the
sum (mod 10) of each chain:

    <bos>31415;92653;58979;=974<eos>     (chains 3-9-5, 1-2-8, 4-6-9, 1-5-7, 5-3-9)

Each digit's running sum is the digit plus the running sum one group earlier, a fixed distance back. A model can
carry one (or a few) groups per recurrence, so the depth an answer needs grows with the number of groups: a
recurrent-depth model's accuracy rises with its recurrence count until that count covers the longest chain, and
its latents settle once the running sums are complete. The answers do not depend on each other, and each is read
at a fixed distance from where its chain ends.
"""

import random
from dataclasses import dataclass

SPECIALS = ("<pad>", "<bos>", "<eos>")
DIGITS = "0123456789"
SYMBOLS = "=;"
VOCAB = (*SPECIALS, *DIGITS, *SYMBOLS)
PAD, BOS, EOS = 0, 1, 2
_INDEX = {s: i for i, s in enumerate(VOCAB)}


def encode(text: str) -> list[int]:
    """Characters to ids (specials are written out, e.g. "<eos>")."""
    ids, i = [], 0
    while i < len(text):
        special = next((s for s in SPECIALS if text.startswith(s, i)), None)
        token = special or text[i]
        if token not in _INDEX:
            raise ValueError(f"text holds {token!r} at {i}, which is not in the vocabulary {''.join(VOCAB[3:])}")
        ids.append(_INDEX[token])
        i += len(token)
    return ids


def decode(ids: list[int]) -> str:
    return "".join(VOCAB[i] for i in ids)


@dataclass(frozen=True)
class Example:
    prompt: str  # "<bos>groups;="
    answer: str  # one digit per chain

    @property
    def text(self) -> str:
        return self.prompt + self.answer + "<eos>"


CHAINS = 5


def example(rng: random.Random, groups: int, chains: int = CHAINS) -> Example:
    """`groups` groups of `chains` random digits; the answer is each chain's digit sum mod 10."""
    if groups < 1 or chains < 1:
        raise ValueError(f"groups={groups} and chains={chains} must be >= 1")
    rows = [[rng.randrange(10) for _ in range(chains)] for _ in range(groups)]
    prompt = "<bos>" + "".join("".join(map(str, row)) + ";" for row in rows) + "="
    answer = "".join(str(sum(row[j] for row in rows) % 10) for j in range(chains))
    return Example(prompt, answer)


def dataset(seed: int, size: int, min_groups: int = 2, max_groups: int = 10) -> list[Example]:
    """`size` examples from `seed` with min_groups..max_groups groups."""
    rng = random.Random(seed)
    return [example(rng, rng.randint(min_groups, max_groups)) for _ in range(size)]


def chain_depth(ex: Example) -> int:
    """Groups in the example: the serial steps its answers need."""
    return ex.prompt.count(";")
