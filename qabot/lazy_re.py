"""Regular expressions compiled the first time they are used instead of at import.

The answer-span patterns of question.py take ~20 ms to compile and most questions use a few of
them (a "how tall" question needs the length units, not money, dates or the other eight unit
classes): a one-shot `qabot ask` compiles only those.

    _MONEY = lazy_compile(r"...", re.IGNORECASE)   # used like re.compile's result
"""

from __future__ import annotations

import re
from typing import Any, cast


class _LazyPattern:
    """Stands for `re.compile(pattern, flags)` and makes it on first use."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        found = self._compiled
        if found is None:  # two threads may both compile it: the same pattern either way
            found = self._compiled = re.compile(*self._args)
        return found

    def finditer(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled().finditer(*args, **kwargs)

    def search(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled().search(*args, **kwargs)

    def match(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled().match(*args, **kwargs)

    def fullmatch(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled().fullmatch(*args, **kwargs)

    def findall(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled().findall(*args, **kwargs)

    def sub(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled().sub(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # pattern, flags, groups, split, subn, ...
        return getattr(self.compiled(), name)

    def __repr__(self) -> str:
        return f"lazy_compile({self._args[0]!r}, {self._args[1]!r})"


def lazy_compile(pattern: str, flags: int | re.RegexFlag = 0) -> re.Pattern[str]:
    """`re.compile(pattern, flags)`, compiled when first used."""
    return cast("re.Pattern[str]", _LazyPattern(pattern, int(flags)))
