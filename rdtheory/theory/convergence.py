"""Remark 3.1 as a theorem: how far from the autoregressive fixed point the adaptive DF sampler commits a state.

Setting. The positions run in the wave are indexed i = 0, 1, ... in order. In every pass, each wavefront position
i updates z_i <- F_i(z_i, c_i), where c_i = (c_j)_{j<i} are the states from which earlier positions' keys were
computed (their input to the current pass while they run; their input to their last pass once they have exited,
as with ShareLast). The reference is the autoregressive fixed-point solution: z*_i = F_i(z*_i, c*_i) with
c*_i = (z*_j)_{j<i}; positions before the wave (a full prefill) hold the same states in both.

Assumptions.
  (A1) Contraction in the state: |F_i(z, c) - F_i(z', c)| <= lam |z - z'| for all z, z', c, with 0 <= lam < 1.
  (A2) Lipschitz in the conditioning: |F_i(z, c) - F_i(z, c')| <= L max_{j<i} |c_j - c'_j|.
  (A3) State bound: every committed state has |z| <= B.
  (A4) Exit rule: contiguous prefix (Eq. 3); position i exits only at the end of a tick in which
       |z_i - z_i^prev| < eps |z_i|, z_i^prev its state at the start of that tick (its initial state in its
       first tick), so m = r' passes earlier in DF; in adaptive AR, where earlier positions are frozen, its state
       at the previous check, m or more passes earlier. No exit is forced by a depth cap.
  (A5) Same inputs as the reference: during its last tick each position's input token is the reference token,
       there is no noise (beta = 0) and no embedding EMA (eta = 0).

Theorem. With alpha = eps B / (1 - lam^m), beta = L / (1 - lam) and S_i = sum_{k<i} beta^k, the committed state
of position i satisfies

    |z_i^committed - z*_i| <= alpha (lam^m + beta S_i)  =  alpha S_{i+1} - eps B,

and every state position i holds during its last tick is within alpha S_{i+1} of z*_i.

Proof (by induction over positions; proofs/remark_3_1_convergence.py checks each step). Let A_i bound
|c_j - z*_j| for every j < i during i's last tick: j exited before (its keys are frozen at a state of its own last
tick) or exits in the same tick (the prefix rule), so A_i = max_{j<i} a_j, with a_j the bound of the claim.
Over i's last m passes, u_s = |y_s - z*_i| obeys u_s <= lam u_{s-1} + L A_i (A1, A2), so
u_m <= lam^m u_0 + L A_i (1 - lam^m)/(1 - lam); the exit test gives u_0 <= u_m + eps B (A3, A4); solving,
u_m <= lam^m alpha + beta A_i. The intermediate u_s stay below max(u_0, beta A_i) <= alpha + beta A_i =: a_i.
Then a_i <= alpha + beta a_{i-1}, a_0 <= alpha, so a_i <= alpha S_{i+1}.

The rightmost rule (Algorithm 2) violates (A4): it commits unconverged positions, and no such bound holds.
As eps -> 0 the bound vanishes: the paper's "converges to the autoregressive solution" is this limit.
"""

from rdtheory.theory.checks import require_int, require_real


def _check(contraction: float, eps: float, state_bound: float, lipschitz: float, index: int, window: int) -> None:
    require_real("contraction", contraction, 0, 1, open_high=True)
    require_real("eps", eps, 0, float("inf"))
    require_real("state_bound", state_bound, 0, float("inf"))
    require_real("lipschitz", lipschitz, 0, float("inf"))
    require_int("index", index, 0)
    require_int("window", window, 1)


def fixed_point_distance(contraction: float, change: float, window: int = 1) -> float:
    """A posteriori bound for one position under fixed conditioning: if m = `window` steps of a lam-contraction
    moved the state by `change`, the state is within lam^m / (1 - lam^m) · change of the fixed point."""
    _check(contraction, 0.0, 0.0, 0.0, 0, window)
    require_real("change", change, 0, float("inf"))
    q = contraction**window
    return q / (1 - q) * change


def _geometric(ratio: float, n: int) -> float:
    """sum_{k<n} ratio^k."""
    return float(n) if ratio == 1 else (ratio**n - 1) / (ratio - 1)


def window_error_bound(contraction: float, eps: float, state_bound: float, lipschitz: float, index: int,
                       window: int = 1) -> float:
    """a_i = alpha S_{i+1}: bound on |z - z*_i| for every state position `index` holds in its last tick."""
    _check(contraction, eps, state_bound, lipschitz, index, window)
    alpha = eps * state_bound / (1 - contraction**window)
    return alpha * _geometric(lipschitz / (1 - contraction), index + 1)


def committed_error_bound(contraction: float, eps: float, state_bound: float, lipschitz: float, index: int,
                          window: int = 1) -> float:
    """Bound on |z_committed - z*| at the `index`-th position run in the wave (0-based), under (A1)-(A5):
    alpha (lam^m + beta S_i) with alpha = eps B / (1 - lam^m), beta = L / (1 - lam), m = `window` (r' for DF,
    the exit-check interval for adaptive AR)."""
    _check(contraction, eps, state_bound, lipschitz, index, window)
    q = contraction**window
    alpha, beta = eps * state_bound / (1 - q), lipschitz / (1 - contraction)
    return alpha * (q + beta * _geometric(beta, index))
