"""A descriptor that turns a moto model's status attribute into a lazy lifecycle.

moto assigns final states directly (``self.state = "available"``).  Installing
``LazyStatus`` on the model class intercepts those assignments: a value listed
in ``rules`` starts a ``clock.Transition`` (e.g. ``available`` becomes
``pending`` until the scaled duration has elapsed), and reads compute the
current value from the clock.  Everything else is stored unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ironbark_emulator import clock

#: rule(obj, value) -> (during, after, duration_key) or None for "store as is".
Rule = Callable[[Any, str], tuple[str, str, str] | None]


class LazyStatus:
    """Data descriptor replacing a plain status attribute on a moto model."""

    def __init__(self, attr: str, rule: Rule, fallback: str | None = None) -> None:
        self.attr = attr
        self.slot = f"_ib_{attr}"
        self.rule = rule
        self.fallback = fallback

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if self.slot not in obj.__dict__ and self.fallback is not None:
            # moto wrote its own private attribute directly (e.g. DBCluster._status).
            value = obj.__dict__.get(self.fallback)
            return "available" if value == "creating" else value
        value = obj.__dict__.get(self.slot)
        if isinstance(value, clock.Transition):
            return value.current()
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        rule = self.rule(obj, value) if isinstance(value, str) else None
        if rule is not None and clock.get_time_scale() > 0:
            obj.__dict__[self.slot] = clock.start(*rule)
        else:
            obj.__dict__[self.slot] = value

    @staticmethod
    def begin(obj: Any, attr: str, during: str, after: str, key: str) -> None:
        """Explicitly start a transition on ``obj.attr``."""
        obj.__dict__[f"_ib_{attr}"] = clock.start(during, after, key)

    @staticmethod
    def transition(obj: Any, attr: str) -> clock.Transition | None:
        """The running transition of ``obj.attr``, if any."""
        value = obj.__dict__.get(f"_ib_{attr}")
        return value if isinstance(value, clock.Transition) else None


def install(cls: type, attr: str, rule: Rule) -> None:
    """Install a ``LazyStatus`` for ``attr`` on ``cls`` (idempotent)."""
    if isinstance(cls.__dict__.get(attr), LazyStatus):
        return
    setattr(cls, attr, LazyStatus(attr, rule))


def table(mapping: dict[str, tuple[str, str, str]]) -> Rule:
    """A rule from a fixed {assigned value: (during, after, key)} table."""
    return lambda obj, value: mapping.get(value)
