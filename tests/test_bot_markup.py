"""Discord markup cleaned out of questions; chatter told apart from questions; upload names; source titles (fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qabot.bot.knowledge import upload_name
from qabot.bot.markup import clean_question, looks_like_question
from qabot.bot.source_links import SourceLinks, front_matter, title_and_url
from qabot.errors import SourceError

NAMES = {
    ("user", 234567890123456789): "alice",
    ("role", 123456789012345678): "Managers",
    ("channel", 345678901234567890): "general",
}


def resolve(kind: str, ident: int) -> str | None:
    return NAMES.get((kind, ident))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Who is Iran's foreign minister? <@&123456789012345678>", "Who is Iran's foreign minister?"),
        ("<@234567890123456789> who is Iran's foreign minister?", "who is Iran's foreign minister?"),
        ("<@!234567890123456789>, <@&123456789012345678>: hi there", "hi there"),
        (
            "What did <@234567890123456789> say to <@&123456789012345678> in <#345678901234567890>?",
            "What did alice say to Managers in general?",
        ),
        (
            "Who is Iran's foreign minister? <:pepe:123456789012345678> <a:dance:123456789012345678>",
            "Who is Iran's foreign minister?",
        ),
        ("Who is Iran's foreign minister? <#345678901234567890>", "Who is Iran's foreign minister?"),
        ("**Who** is __Iran's__ *foreign* ~~prime~~ ||minister||?", "Who is Iran's foreign prime minister?"),
        ("> quoted\n# heading `code` [link](https://example.com) <t:1700000000:R>", "quoted heading code link"),
        ("What did <@999999999999999999> say to <@&999999999999999999> folks?", "What did say to folks?"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("<@111111111111111111> ask me", "ask me"),  # the bot's own mention is dropped
    ],
)
def test_clean_question(raw: str, clean: str) -> None:
    assert clean_question(raw, resolve, drop_user=111111111111111111) == clean


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("thanks, that helps!", False),
        ("lol", False),
        ("ok", False),
        ("great answer", False),
        ("and how many failed", True),
        ("how many failed?", True),
        ("Who fired them", True),
        ("so where did they hit", True),
        ("explain the attack", True),
        ("really?", True),
    ],
)
def test_chatter_is_not_a_question(text: str, question: bool) -> None:
    assert looks_like_question(text) is question


def test_upload_names_are_plain_and_bounded() -> None:
    assert upload_name("Harbour Guide.md", 10, 100) == "Harbour Guide.md"
    assert upload_name("we?ird*name.TXT", 10, 100) == "we_ird_name.txt"
    for bad in ("../evil.md", "..\\evil.md", "a/b.md", "/etc/passwd.txt", ".hidden.md", "", "x..md"):
        with pytest.raises(SourceError, match="plain name"):
            upload_name(bad, 10, 100)
    with pytest.raises(SourceError, match="is not a kind of document"):
        upload_name("tool.exe", 10, 100)
    with pytest.raises(SourceError, match="the limit is 100"):
        upload_name("big.md", 101, 100)


def test_titles_and_links_of_sources(tmp_path: Path) -> None:
    md = "---\ntitle: Harbour guide\nurl: https://docs.example.com/harbour\n---\n# Harbour of Qelvin\n\nText.\n"
    assert front_matter(md)[0] == {"title": "Harbour guide", "url": "https://docs.example.com/harbour"}
    assert title_and_url("a.md", md) == ("Harbour guide", "https://docs.example.com/harbour")
    assert title_and_url("a.md", "Intro line\n\n## Second\n") == ("Second", None)
    assert title_and_url("a.md", "---\nurl: javascript:alert(1)\n---\nHello\n") == ("Hello", None)
    assert title_and_url("a.html", "<html><title>Page &amp; more</title><body>x</body></html>") == ("Page & more", None)
    assert title_and_url("a.txt", "\n\n  Iran Retaliates  \n\nBody") == ("Iran Retaliates", None)

    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "set up.md").write_text("# Setting up\n\nBody.\n", encoding="utf-8")
    (tmp_path / "own.md").write_text(md, encoding="utf-8")
    links = SourceLinks("https://docs.example.com/{path}")
    info = links.describe(tmp_path, "guides/set up.md")
    assert info.title == "Setting up" and info.url == "https://docs.example.com/guides/set%20up.md"
    assert links.describe(tmp_path, "own.md").url == "https://docs.example.com/harbour"  # front matter wins
    assert links.describe(tmp_path, "missing.txt").title == "missing.txt"
    assert links.describe(tmp_path, "../outside.txt").title == "outside.txt"  # never read outside the seeds
    assert SourceLinks("https://x.example/{stem}.html").template_url("a/b.md") == "https://x.example/a/b.html"
    assert SourceLinks(None).template_url("a.md") is None
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj")
    assert links.describe(tmp_path, "report.pdf").title == "report.pdf"  # binary: never read for a title
