"""Argument checks: errors name the argument, its value and the rule. Shared by the theory modules and by
`rdtheory.figures`, whose data functions take the same kinds of counts and ranges."""

from numbers import Real


def require(name: str, value: object, ok: bool, rule: str) -> None:
    """ValueError "name=value rule" unless `ok`."""
    if not ok:
        raise ValueError(f"{name}={value!r} {rule}")


def require_int(name: str, value: object, minimum: int) -> int:
    """`value` as an int >= minimum (bools are refused: they are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}={value!r} must be an int")
    require(name, value, value >= minimum, f"must be >= {minimum}")
    return value


def require_real(name: str, value: object, low: float, high: float, *, open_high: bool = False) -> Real:
    """`value` as a real number in [low, high] (or [low, high) with open_high)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}={value!r} must be a real number")
    inside = low <= value < high if open_high else low <= value <= high
    require(name, value, inside, f"must lie in [{low}, {high}{')' if open_high else ']'}")
    return value
