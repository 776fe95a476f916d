"""Small helpers shared by the patch modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def wrap_method(cls: type, name: str, fn: Callable[..., Any]) -> None:
    """Replace ``cls.name`` by ``fn(original, self, *args, **kwargs)`` (idempotent)."""
    original = getattr(cls, name)
    applied: frozenset[Any] = getattr(original, "_ironbark_fns", frozenset())
    if fn in applied:
        return

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(original, self, *args, **kwargs)

    wrapper._ironbark = True  # type: ignore[attr-defined]
    wrapper._ironbark_fns = applied | {fn}  # type: ignore[attr-defined]
    wrapper.__doc__ = original.__doc__
    wrapper.__name__ = name
    setattr(cls, name, wrapper)


def first_time(slot: str, during: str, after: str, key: str, final: str) -> Callable[[Any, str], tuple[str, str, str] | None]:
    """LazyStatus rule: the first assignment of ``final`` starts ``during -> after``."""

    def rule(obj: Any, value: str) -> tuple[str, str, str] | None:
        if value == final and f"_ib_{slot}" not in obj.__dict__:
            return (during, after, key)
        return None

    return rule
