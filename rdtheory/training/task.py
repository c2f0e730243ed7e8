"""Program evaluation: a task whose answers need several serial steps, with a character vocabulary built in code.

An example is a short straight-line program over digits mod 10, then a query of a few of its variables, then the
answers:

    <bos>e=7;b=e+3;h=b*2;a=h-4;c=b+6?hca=066<eos>

Variable names are shuffled letters, each assignment reads one earlier variable (most often the previous one),
so a variable's value is the end of a dependency chain as long as the program. Evaluating the chain is serial
work: a model must carry values along it, and a recurrent-depth model can do one or a few links per recurrence,
so its accuracy rises with depth. The answers to different queries do not depend on each other.
"""

import random
from dataclasses import dataclass

SPECIALS = ("<pad>", "<bos>", "<eos>")
DIGITS = "0123456789"
LETTERS = "abcdefgh"
SYMBOLS = "=;+-*?"
VOCAB = (*SPECIALS, *DIGITS, *LETTERS, *SYMBOLS)
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
    prompt: str  # "<bos>program?queries="
    answer: str  # digits, one per query

    @property
    def text(self) -> str:
        return self.prompt + self.answer + "<eos>"


def example(rng: random.Random, n_vars: int, n_queries: int, chain: float = 0.7) -> Example:
    """A program of `n_vars` assignments and `n_queries` distinct queried variables; each assignment reads the
    previous variable with probability `chain`, otherwise a random earlier one."""
    if not 1 <= n_queries <= n_vars <= len(LETTERS):
        raise ValueError(f"need 1 <= n_queries={n_queries} <= n_vars={n_vars} <= {len(LETTERS)}")
    names = rng.sample(LETTERS, n_vars)
    values: dict[str, int] = {}
    program = []
    for i, name in enumerate(names):
        if i == 0:
            values[name] = rng.randrange(10)
            program.append(f"{name}={values[name]}")
            continue
        source = names[i - 1] if rng.random() < chain else rng.choice(names[:i])
        op = rng.choice("+-*")
        k = rng.randrange(2, 4) if op == "*" else rng.randrange(1, 10)
        value = {"+": values[source] + k, "-": values[source] - k, "*": values[source] * k}[op] % 10
        values[name] = value
        program.append(f"{name}={source}{op}{k}")
    queries = rng.sample(names, n_queries)
    prompt = "<bos>" + ";".join(program) + "?" + "".join(queries) + "="
    return Example(prompt, "".join(str(values[q]) for q in queries))


def dataset(seed: int, size: int, min_vars: int = 3, max_vars: int = 8, n_queries: int = 3) -> list[Example]:
    """`size` examples from `seed` (programs of min_vars..max_vars assignments)."""
    rng = random.Random(seed)
    return [example(rng, rng.randint(min_vars, max_vars), min(n_queries, min_vars)) for _ in range(size)]


def chain_depth(ex: Example) -> int:
    """Longest dependency chain among the queried variables (1 for a constant)."""
    body = ex.prompt.removeprefix("<bos>").split("?")[0]
    depth: dict[str, int] = {}
    for statement in body.split(";"):
        name, expr = statement.split("=")
        depth[name] = 1 + (depth[expr[0]] if expr[0] in LETTERS else 0)
    queries = ex.prompt.split("?")[1].rstrip("=")
    return max(depth[q] for q in queries)
