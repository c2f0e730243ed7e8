"""Variable binding: a task whose answers need serial look-ups, with a character vocabulary built in code.

An example binds the letters a-p in a few chains, each rooted in a digit, writes the bindings in shuffled order and
asks for the value of some letters:

    <bos>c=7;e=c;a=1;f=e;b=a;?fb=71<eos>      (f -> e -> c -> 7: three hops; b -> a -> 1: two hops)

Resolving a letter takes one look-up per hop (find the binding whose left side is the current letter, read its right
side), and each look-up needs the previous one's result, so the depth an answer needs grows with its hop count: a
recurrent-depth model's accuracy rises with its recurrence count until that count covers the longest chain, and its
latents settle once every query is resolved (a fixed point). Every chain has its own root digit, so reading any
digit of the prompt is right only by chance, and the answers do not depend on each other.
"""

import random
from dataclasses import dataclass

SPECIALS = ("<pad>", "<bos>", "<eos>")
DIGITS = "0123456789"
LETTERS = "abcdefghijklmnop"
SYMBOLS = "=;?"
VOCAB = (*SPECIALS, *DIGITS, *LETTERS, *SYMBOLS)
PAD, BOS, EOS = 0, 1, 2
_INDEX = {s: i for i, s in enumerate(VOCAB)}

CHAINS = 4
"""Chains per example (each with its own root digit)."""
QUERIES = 4
"""Letters asked per example (one answer digit each)."""
MAX_HOPS = 8
"""Longest chain in the training distribution."""


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
    prompt: str  # "<bos>bindings?letters="
    answer: str  # one digit per query
    hops: tuple[int, ...]  # look-ups each query needs

    @property
    def text(self) -> str:
        return self.prompt + self.answer + "<eos>"

    @property
    def depth(self) -> int:
        """The most hops any query of the example needs."""
        return max(self.hops)


def example(rng: random.Random, max_hops: int = MAX_HOPS, chains: int = CHAINS, queries: int = QUERIES) -> Example:
    """`chains` chains of 1..max_hops letters each (shortened at random until they fit the 16 letters), bindings
    shuffled, `queries` letters asked (uniformly among the bound ones)."""
    for name, value, low, high in (("max_hops", max_hops, 1, len(LETTERS)), ("chains", chains, 1, len(DIGITS)),
                                   ("queries", queries, 1, 64)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name}={value!r} must be an int in [{low}, {high}]")
    lengths = [rng.randint(1, max_hops) for _ in range(chains)]
    while sum(lengths) > len(LETTERS):
        k = rng.randrange(chains)
        lengths[k] = max(1, lengths[k] - 1)
    letters = rng.sample(LETTERS, sum(lengths))
    roots = rng.sample(DIGITS, chains)
    bindings, value, hops = [], {}, {}
    for length, root in zip(lengths, roots):
        chain, letters = letters[:length], letters[length:]
        previous = root
        for depth, letter in enumerate(chain, start=1):
            bindings.append(f"{letter}={previous};")
            value[letter], hops[letter], previous = root, depth, letter
    rng.shuffle(bindings)
    asked = rng.choices(sorted(value), k=queries)
    prompt = "<bos>" + "".join(bindings) + "?" + "".join(asked) + "="
    return Example(prompt, "".join(value[q] for q in asked), tuple(hops[q] for q in asked))


def dataset(seed: int, size: int, max_hops: int = MAX_HOPS) -> list[Example]:
    """`size` examples drawn from `seed`."""
    rng = random.Random(seed)
    return [example(rng, max_hops) for _ in range(size)]
