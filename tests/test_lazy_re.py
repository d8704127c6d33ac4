"""Patterns compiled on first use behave as re.compile's, and cost nothing until used."""

from __future__ import annotations

import re

from qabot.lazy_re import lazy_compile


def test_a_lazy_pattern_matches_like_the_compiled_one() -> None:
    text = "It cost $5 million in 1999, about 40 percent more; see RFC-2616."
    for pattern, flags in ((r"\d+", 0), (r"(?P<word>[a-z]+)cent", re.IGNORECASE), (r"\$\s?\d+", 0)):
        lazy, real = lazy_compile(pattern, flags), re.compile(pattern, flags)
        assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
        assert lazy.findall(text) == real.findall(text)
        assert lazy.sub("#", text) == real.sub("#", text)
        assert lazy.split(text) == real.split(text)  # any other method, through the compiled one
        assert bool(lazy.search(text)) == bool(real.search(text))
        assert bool(lazy.match(text)) == bool(real.match(text))
        assert bool(lazy.fullmatch("1999")) == bool(real.fullmatch("1999"))
        assert (lazy.pattern, lazy.flags) == (real.pattern, real.flags)


def test_nothing_is_compiled_before_the_first_use() -> None:
    lazy = lazy_compile(r"(unbalanced")  # a bad pattern fails where it is used, not at import
    try:
        lazy.search("x")
    except re.error:
        pass
    else:
        raise AssertionError("the pattern was not compiled on use")
