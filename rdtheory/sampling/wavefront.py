"""The host-side bookkeeping of one row's wavefront in the diffusion-forcing sampler (integers only).

A row's wavefront is the run of positions [head, head + width) whose states are being iterated. The head's input
token is committed (or given by the prompt); the positions after it hold drafts. After each tick, `decide` picks
the prefix of the wavefront that exits and the tokens it commits, and `advance` moves the head, replaces drafts by
the new predictions, and appends new positions. This module knows nothing about tensors or models; it is the
control flow that `rdtheory.theory.schedule.df_schedule` simulates.

Rules (each one fixes a fault of the reference implementation):
* exits happen before appending, so a cap of 1 admits a new position as soon as the head leaves (no stall);
* a position after the head exits only if the draft it consumed this tick equals the token its left neighbour
  now commits, so committed tokens and the cached keys always agree;
* never more than the requested tokens are committed, and a stop token ends the row at once;
* a position is forced out at max_depth, so every position leaves within ceil(max_depth / inner) ticks.
"""

from dataclasses import dataclass, field


@dataclass
class Decision:
    exits: int  # positions leaving from the head
    commits: list[tuple[int, int]]  # (position, token)
    stop: bool


@dataclass
class RowFront:
    prompt: list[int]
    n_new: int
    head: int
    inputs: list[int]  # input token of each wavefront position
    counts: list[int] = field(default_factory=list)  # recurrences done, per wavefront position
    ticks: list[int] = field(default_factory=list)  # ticks begun, per wavefront position (noise draw index)
    fresh: list[bool] = field(default_factory=list)  # entered since the last tick (no state, no EMA history)
    committed: list[int] = field(default_factory=list)
    done: bool = False
    finished: str = "length"
    admitted: int = 0  # prompt positions admitted so far (without full prefill)

    @classmethod
    def after_prefill(cls, prompt: list[int], n_new: int, first: int) -> "RowFront":
        """Full prefill committed `first` at position P; the wavefront is {P}."""
        p = len(prompt)
        front = cls(prompt, n_new, head=p, inputs=[first], counts=[0], ticks=[0], fresh=[True], committed=[first],
                    admitted=p)
        if n_new == 1:
            front.done = True
        return front

    @classmethod
    def without_prefill(cls, prompt: list[int], n_new: int, cap: int) -> "RowFront":
        """The prompt itself enters the wavefront, up to the cap."""
        k = min(len(prompt), cap)
        return cls(prompt, n_new, head=0, inputs=prompt[:k], counts=[0] * k, ticks=[0] * k, fresh=[True] * k,
                   admitted=k, done=n_new == 0)

    @property
    def width(self) -> int:
        return len(self.inputs)

    @property
    def last_needed(self) -> int:
        """The last position that must run: token P+N-1 is decoded from position P+N-2."""
        return len(self.prompt) + self.n_new - 2

    def record_tick(self, inner: int) -> None:
        """Every wavefront position has just run `inner` more recurrences in one more tick."""
        self.ticks = [t + 1 for t in self.ticks]
        self.counts = [n + inner for n in self.counts]

    def decide(self, predicted: list[int], converged: list[bool], rightmost: bool,
               stops: frozenset[int]) -> Decision:
        """predicted[i]: the token decoded from wavefront position head+i this tick; converged[i]: the exit rule's
        verdict for it (already forced at max_depth)."""
        if rightmost:
            hits = [i for i, c in enumerate(converged) if c]
            n = hits[-1] + 1 if hits else 0
        else:
            n = next((i for i, c in enumerate(converged) if not c), len(converged))
        p0, budget = len(self.prompt), self.n_new - len(self.committed)
        commits: list[tuple[int, int]] = []
        stop = False
        for i in range(n):
            pos = self.head + i
            if i > 0 and pos >= p0 and self.inputs[i] != predicted[i - 1]:
                n = i  # its state was computed from a draft that is not being committed
                break
            if pos + 1 >= p0:
                if len(commits) == budget:
                    n = i
                    break
                commits.append((pos + 1, predicted[i]))
                if predicted[i] in stops:
                    n, stop = i + 1, True
                    break
        return Decision(n, commits, stop)

    def advance(self, decision: Decision, predicted: list[int], cap: int, headway: int,
                placeholder: list[int]) -> tuple[int, bool]:
        """Apply a decision; returns (positions appended, standing wave). placeholder[j] is the filler token for
        the j-th extra headway position."""
        n = decision.exits
        self.committed += [t for _, t in decision.commits]
        if decision.stop or len(self.committed) == self.n_new:
            self.done, self.finished = True, "stop" if decision.stop else "length"
            return 0, False
        p0, old_width = len(self.prompt), self.width
        for i in range(max(n, 1), old_width):
            if self.head + i >= p0:
                self.inputs[i] = predicted[i - 1]
        self.head += n
        self.inputs, self.counts, self.ticks = self.inputs[n:], self.counts[n:], self.ticks[n:]
        self.fresh = [False] * len(self.inputs)
        room = cap - self.width
        if self.admitted < p0:
            k = min(room, p0 - self.admitted)
            self._append(self.prompt[self.admitted:self.admitted + k])
            self.admitted += k
            return k, k == 0
        end = self.head + self.width  # first position not started
        want = self.last_needed - end + 1
        k = min(headway, room, want)
        if k <= 0:
            return 0, want > 0 and room <= 0
        first = predicted[end - 1 - (self.head - n)]  # decoded this tick from position end-1
        self._append([first] + placeholder[: k - 1])
        return k, False

    def _append(self, tokens: list[int]) -> None:
        self.inputs += tokens
        self.counts += [0] * len(tokens)
        self.ticks += [0] * len(tokens)
        self.fresh += [True] * len(tokens)
