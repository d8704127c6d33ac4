"""Pure formatting for Discord: escaping, Discord's size limits, answer and index embeds.

Nothing here talks to Discord. Every text that came from a document or a user goes
through `escape` (markdown and mentions neutralised), and every embed or message built
here stays within Discord's limits, so Discord never rejects what the bot sends:

    2000 characters of message content      4096 per embed description
    256 per title or field name             1024 per field value
    2048 per footer                         6000 per message across all its embeds
    25 fields per embed                     10 embeds per message
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import discord

from ..records import ABSTAIN_TEXT, Answer, Citation, IndexInfo
from .source_links import SourceInfo

Describe = Callable[[Citation], SourceInfo]

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
FIELDS_PER_EMBED = 25
EMBEDS_PER_MESSAGE = 10
THREAD_NAME_LIMIT = 100

QUOTE_CHARS = 300  # longest quote shown for one source
TITLE_SHOWN_CHARS = 120  # longest document title shown for one source
MIN_QUOTE_CHARS = 80  # below this, sources move to an embed of their own
ELLIPSIS = "…"

ANSWER_COLOUR = discord.Colour.blurple()
ABSTAIN_COLOUR = discord.Colour.light_grey()
INFO_COLOUR = discord.Colour.teal()

ABSTAIN_DETAIL = (
    "I couldn't find a passage in the indexed documents that answers this. "
    "Try rephrasing the question, or use /sources to see what is indexed."
)

_ZWSP = "\u200b"
_WS = re.compile(r"\s+")
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to send: optional content plus embeds, already within limits."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    view: discord.ui.View | None = None  # buttons, on the last message of an answer


# ---- escaping ---------------------------------------------------------------------
def escape(text: str) -> str:
    """Markdown and mentions made inert: `@everyone`, `<@&role>`, `**x**` show as typed."""
    text = discord.utils.escape_markdown(text)
    text = discord.utils.escape_mentions(text)
    # escape_mentions is case-sensitive; Discord clients are not always.
    return _MASS_MENTION.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def unescape(text: str) -> str:
    """Undo `escape` well enough to reuse shown text as a question."""
    return re.sub(r"\\([^A-Za-z0-9\s])", r"\1", text).replace(_ZWSP, "")


def one_line(text: str) -> str:
    return _WS.sub(" ", text).strip()


def code(text: str) -> str:
    """Inline code for file names: no markdown or mention is parsed inside."""
    return "`" + text.replace("`", "ˋ").replace("\n", " ") + "`"


# ---- cutting ----------------------------------------------------------------------
def _clean_end(text: str) -> str:
    """Never end on a lone escaping backslash or a half-written mention guard."""
    text = text.rstrip()
    while text.endswith("\\") and (len(text) - len(text.rstrip("\\"))) % 2 == 1:
        text = text[:-1].rstrip()
    if text.endswith("@"):
        text = text[:-1].rstrip()
    return text


def _cut_point(text: str, limit: int) -> int:
    """Best place to cut `text` to at most `limit` characters: paragraph, line, sentence, word."""
    if len(text) <= limit:
        return len(text)
    floor = max(1, limit // 2)
    window = text[: limit + 1]
    for sep in ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " "):
        at = window.rfind(sep, floor)
        if at != -1:
            return min(limit, at + len(sep.rstrip()))  # keep the punctuation, drop the space
    return limit


def truncate(text: str, limit: int) -> str:
    """`text` cut at a word boundary to fit `limit`, with an ellipsis when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    head = _clean_end(text[: _cut_point(text, limit - len(ELLIPSIS))])
    return head + ELLIPSIS


def fit(text: str, limit: int) -> str:
    """Escape `text` and trim it so the escaped form fits `limit`."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    budget = limit
    while budget > 0:
        candidate = escape(truncate(text, budget))
        if len(candidate) <= limit:
            return candidate
        budget -= max(1, len(candidate) - limit)
    return ""


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters at natural boundaries."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            pieces.append(rest)
            break
        at = _cut_point(rest, limit)
        head = _clean_end(rest[:at]) or rest[:at]
        pieces.append(head)
        rest = rest[len(head) :].lstrip()
    return pieces


def split_escaped(text: str, limit: int) -> list[str]:
    """Like split_text, but each piece is escaped and the escaped piece fits `limit`."""
    out: list[str] = []
    for raw in split_text(text, limit):
        pending = raw
        while pending:
            budget = limit
            while True:
                head = split_text(pending, budget)[0]
                shown = escape(head)
                if len(shown) <= limit:
                    break
                budget -= max(1, len(shown) - limit)
            out.append(shown)
            pending = pending[len(head) :].lstrip()
    return out


# ---- sizes ------------------------------------------------------------------------
def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts toward the 6000 limit (an upper bound)."""
    return len(embed)


def check_embed(embed: discord.Embed) -> None:
    """Raise ValueError when `embed` breaks one of Discord's limits (used by tests)."""
    if len(embed.title or "") > TITLE_LIMIT:
        raise ValueError("title too long")
    if len(embed.description or "") > DESCRIPTION_LIMIT:
        raise ValueError("description too long")
    if len(embed.fields) > FIELDS_PER_EMBED:
        raise ValueError("too many fields")
    for f in embed.fields:
        if len(f.name or "") > FIELD_NAME_LIMIT or len(f.value or "") > FIELD_VALUE_LIMIT:
            raise ValueError("field too long")
    if len(embed.footer.text or "") > FOOTER_LIMIT:
        raise ValueError("footer too long")
    if embed_size(embed) > EMBED_TOTAL_LIMIT:
        raise ValueError("embed too long")


def pack(embeds: Sequence[discord.Embed]) -> list[Reply]:
    """Group embeds into as few messages as the 10-embed and 6000-character limits allow."""
    replies: list[Reply] = []
    batch: list[discord.Embed] = []
    used = 0
    for embed in embeds:
        size = embed_size(embed)
        if batch and (len(batch) >= EMBEDS_PER_MESSAGE or used + size > EMBED_TOTAL_LIMIT):
            replies.append(Reply(embeds=batch))
            batch, used = [], 0
        batch.append(embed)
        used += size
    if batch:
        replies.append(Reply(embeds=batch))
    return replies


# ---- answers ----------------------------------------------------------------------
def span_label(citation: Citation) -> str:
    page = f"p. {citation.page} · " if citation.page is not None else ""
    return f"{page}chars {citation.start}–{citation.end}"


def source_field(number: int, citation: Citation, quote_chars: int, info: SourceInfo | None = None) -> tuple[str, str]:
    """(name, value) of the field for source [number]: file and span, then title (linked) and a short quote."""
    source = citation.source
    tail = f" · {span_label(citation)}"
    room = FIELD_NAME_LIMIT - len(f"[{number}] ") - len(tail) - 2
    if len(source) > room:
        source = ELLIPSIS + source[-(room - 1) :]
    name = f"[{number}] {code(source)}{tail}"
    heading = ""
    if info is not None and (info.title or info.url):
        title = fit(one_line(info.title or source), TITLE_SHOWN_CHARS)
        url = (info.url or "").replace("(", "%28").replace(")", "%29")
        heading = f"**[{title}]({url})**\n" if url else f"**{title}**\n"
    quote = fit(one_line(citation.text), max(0, min(quote_chars, FIELD_VALUE_LIMIT - 2 - len(heading))))
    return name, heading + (f"> {quote}" if quote else "> …")


def marked_numbers(answer: Answer) -> list[int]:
    """The [n] markers the answer's text uses, in citation order (all of them when it uses none)."""
    used = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text or "")}
    numbers = [i for i in range(1, len(answer.citations) + 1) if i in used]
    return numbers or list(range(1, len(answer.citations) + 1))


def _with_short_answer(parts: list[str], answer: Answer) -> list[str]:
    """The short answer wrapped in ** (bold) where it shows in the escaped answer text."""
    span = answer.short_answer_span()
    if span is None or answer.text is None:
        return parts
    shown = escape(answer.text[span[0] : span[1]])
    for i, part in enumerate(parts):
        if shown and shown in part and len(part) + 4 <= DESCRIPTION_LIMIT:
            parts[i] = part.replace(shown, f"**{shown}**", 1)
            break
    return parts


def _source_fields(
    citations: Sequence[Citation], quote_chars: int, describe: Describe | None = None, numbers: Sequence[int] = ()
) -> list[tuple[str, str]]:
    numbered = list(zip(numbers, citations, strict=False)) if numbers else list(enumerate(citations, start=1))
    return [source_field(i, c, quote_chars, describe(c) if describe else None) for i, c in numbered[:FIELDS_PER_EMBED]]


def answer_replies(
    answer: Answer, question: str | None = None, footer: str | None = None, describe: Describe | None = None
) -> list[Reply]:
    """The messages that show one answer: text with [n] markers, then the sources it marks.

    `describe` gives a source's title and link. Citations the text does not mark are left
    for the "More sources" button (`more_sources_embed`).
    """
    title = fit(one_line(question if question is not None else answer.question), TITLE_LIMIT) or None
    footer_text = truncate(one_line(footer), 200) if footer else None
    if answer.abstained or not answer.text:
        embed = discord.Embed(title=title, description=f"**{ABSTAIN_TEXT}** {ABSTAIN_DETAIL}", colour=ABSTAIN_COLOUR)
        if footer_text:
            embed.set_footer(text=footer_text)
        return [Reply(embeds=[embed])]

    parts = _with_short_answer(split_escaped(answer.text, DESCRIPTION_LIMIT), answer)
    embeds = [
        discord.Embed(title=title if i == 0 else None, description=part, colour=ANSWER_COLOUR)
        for i, part in enumerate(parts)
    ]
    if len(embeds) > 1:
        for i, embed in enumerate(embeds[1:], start=2):
            embed.title = f"(continued {i}/{len(embeds)})"

    last = embeds[-1]
    numbers = marked_numbers(answer)[:FIELDS_PER_EMBED]
    citations = [answer.citations[n - 1] for n in numbers]
    reserve = len(footer_text or "")
    if citations and not _add_sources(last, citations, reserve, MIN_QUOTE_CHARS, describe, numbers):
        # no room beside a very long answer: the sources get an embed of their own
        last = discord.Embed(title="Sources", colour=ANSWER_COLOUR)
        _add_sources(last, citations, reserve, 1, describe, numbers)
        embeds.append(last)
    if footer_text:
        footer_text = truncate(footer_text, EMBED_TOTAL_LIMIT - embed_size(last))
        if footer_text:
            last.set_footer(text=footer_text)
    return pack(embeds)


def _add_sources(
    embed: discord.Embed,
    citations: Sequence[Citation],
    reserve: int,
    min_quote: int,
    describe: Describe | None = None,
    numbers: Sequence[int] = (),
) -> bool:
    """Add one field per citation, quotes shortened so the embed stays within 6000."""
    fixed = sum(sum(map(len, field)) + 2 for field in _source_fields(citations, 0, describe, numbers))
    room = (EMBED_TOTAL_LIMIT - embed_size(embed) - reserve - fixed) // len(citations) - 2
    quote_chars = min(QUOTE_CHARS, room)
    if quote_chars < min_quote:
        return False
    for name, value in _source_fields(citations, quote_chars, describe, numbers):
        embed.add_field(name=name, value=value, inline=False)
    return True


def plural(n: int, word: str) -> str:
    """'1 document', '2 documents'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def answer_footer(answer: Answer, generation: str | None = None) -> str:
    """'2 sources' (the index generation is for logs, not for members)."""
    return plural(len(answer.citations), "source")


def more_sources_embed(answer: Answer, describe: Describe | None = None) -> discord.Embed | None:
    """The citations the answer's text does not mark, for the "More sources" button (None: none)."""
    shown = set(marked_numbers(answer))
    numbers = [n for n in range(1, len(answer.citations) + 1) if n not in shown][:FIELDS_PER_EMBED]
    if not numbers:
        return None
    embed = discord.Embed(title="More sources", colour=ANSWER_COLOUR)
    citations = [answer.citations[n - 1] for n in numbers]
    if not _add_sources(embed, citations, 0, 1, describe, numbers):
        return None
    return embed


# ---- index information ------------------------------------------------------------
def _when(built_at: str) -> str:
    try:
        moment = datetime.fromisoformat(built_at)
    except ValueError:
        return escape(built_at)
    return discord.utils.format_dt(moment, "f") + " (" + discord.utils.format_dt(moment, "R") + ")"


def sources_embed(info: IndexInfo, title: str | None = None) -> discord.Embed:
    """What /sources shows: counts, model, build time, then the indexed files."""
    embed = discord.Embed(title="Indexed documents", colour=INFO_COLOUR)
    if title:
        embed.title = truncate(title, TITLE_LIMIT)
    embed.add_field(name="Documents", value=f"{info.documents:,}")
    embed.add_field(name="Chunks", value=f"{info.chunks:,}")
    embed.add_field(name="Sentences", value=f"{info.sentences:,}")
    embed.add_field(name="Model", value=code(truncate(info.model, FIELD_VALUE_LIMIT - 2)))
    embed.add_field(name="Built", value=_when(info.built_at))
    embed.add_field(name="Generation", value=code(truncate(info.generation, FIELD_VALUE_LIMIT - 2)))
    if info.stale:
        changed = len(info.stale)
        embed.add_field(
            name="Changed since the build",
            value=f"{plural(changed, 'file')} added, changed or removed: a member with Manage Server can run /reindex.",
            inline=False,
        )
    lines: list[str] = []
    used = 0
    budget = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_size(embed)) - 40
    for i, source in enumerate(info.sources):
        line = "• " + code(truncate(source, 200))
        if used + len(line) + 1 > budget:
            lines.append(f"… and {len(info.sources) - i:,} more")
            break
        lines.append(line)
        used += len(line) + 1
    embed.description = "\n".join(lines) if lines else "No documents are indexed yet."
    return embed


# ---- small texts ------------------------------------------------------------------
def notice(text: str) -> str:
    """A short message of the bot's own (errors, refusals) within the content limit.

    Its `code` and **bold** show as formatting; mass mentions are made inert (nothing the
    bot sends can ping anyway). Escape any user or document text put into it first.
    """
    return _MASS_MENTION.sub(lambda m: "@" + _ZWSP + m.group(1), truncate(text, CONTENT_LIMIT))


def thread_name(question: str) -> str:
    """A thread title from a question: one line, no mentions, 1-100 characters."""
    text = re.sub(r"<[@#][!&]?\d+>|@(everyone|here)\b", " ", question, flags=re.IGNORECASE)
    return truncate(one_line(text), THREAD_NAME_LIMIT) or "Question"


def question_from_embeds(embeds: Sequence[discord.Embed]) -> str | None:
    """The question an earlier answer showed as its title, if any."""
    for embed in embeds:
        if embed.title and not embed.title.startswith("(continued") and embed.title != "Sources":
            return unescape(embed.title).rstrip(ELLIPSIS).strip() or None
    return None
