"""What a question asks for, and where in a sentence the answer to it is.

    q = analyze("How much did the Burj Khalifa cost?")
    q.answer_type, q.focus, q.subjects          # "money", "cost", ("Burj Khalifa",)
    span = find_span(q, sentence)               # (start, end) of "$1.5 billion" in it, or None

Rules only (regular expressions and small word lists): measured against a spaCy small
English pipeline on the labelled questions (docs/quality.md #49), they classified as well
and cost no model load. Everything here runs on the question and on the few candidate
sentences of one question, never on the whole index.

Answer types: person, organisation, city, country, place, date, year, time, count, money,
distance, size, duration, percentage, yesno, title, description (role questions are
descriptions whose focus is "role").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .lazy_re import lazy_compile
from .lexical import tokenize

# ---- answer types -----------------------------------------------------------------------

PLACE_TYPES = frozenset({"city", "country", "place"})
DATE_TYPES = frozenset({"date", "year", "time"})
MEASURE_TYPES = frozenset({"distance", "size", "duration"})
NAME_TYPES = frozenset({"person", "organisation"})

_MONEY_WORDS = (
    r"gross|grossed|lend|lent|loan|cost|costs|costing|price|priced|pay|paid|spend|spent|worth|earn|earned|earns|budget|funding|revenue|"
    r"revenues|sell|sold|salary|fee|fees|charge|charged|raise|raised|valued|value|income|profit|fund|funded|"
    r"invest|invested|investment|gdp|fine|fined|bought|buy|ticket"
)
_MONEY_NOUNS = r"budget|cost|price|revenue|revenues|salary|fee|fees|income|profit|funding|gdp|net worth"
_MONEY_ADJECTIVES = (
    r"annual|yearly|monthly|weekly|total|estimated|average|initial|original|final|current|overall|net|gross|approximate"
)
_MONEY_KINDS = {  # a focus -> stems of the words that state that kind of money
    "budget": {"budget", "fund", "spend", "spent", "alloc"},
    "revenue": {"revenu", "incom", "sale", "turnov", "earn"},
    "revenues": {"revenu", "incom", "sale", "turnov", "earn"},
    "income": {"incom", "revenu", "earn", "salari", "wage"},
    "profit": {"profit", "earn", "net", "incom"},
    "salary": {"salari", "wage", "paid", "pay", "earn"},
    "fee": {"fee", "charg", "cost", "price", "paid", "pay"},
    "fees": {"fee", "charg", "cost", "price", "paid", "pay"},
    "funding": {"fund", "grant", "budget", "invest"},
}
_LENGTH_FOCUS = {"range", "wingspan", "deep", "depth", "tall", "height", "high", "long", "length", "far", "distance", "wide",  # noqa: E501
                 "width", "elevation", "altitude", "diameter", "radius", "thick", "thickness"}  # fmt: skip
_MASS_FOCUS = {"heavy", "weigh", "weighs", "weight", "mass"}
_SPEED_FOCUS = {"fast", "speed", "quickly"}
_TEMP_FOCUS = {"temperature", "hot", "cold", "melting", "boiling", "point"}
_MEASURE_NOUNS = (
    r"population|area|height|length|depth|diameter|radius|distance|speed|weight|mass|size|temperature|"
    r"thickness|width|elevation|altitude|volume|capacity|density|melting point|boiling point|age|lifespan|range|"
    r"wingspan"
)
_ORG_NOUNS = (
    r"company|companies|organi[sz]ation|team|club|party|band|university|agency|group|firm|corporation|"
    r"network|newspaper|publisher|label|studio|school|college|airline|bank|brand|manufacturer|army|body|magazine|"
    r"paper|journal|outlet|channel|broadcaster|statement|tradition|service|unit|branch|dynasty|movement|religion|church|institution"
)
_PERSON_NOUNS = (
    r"official|emperor|king|queen|president|leader|author|scientist|writer|painter|composer|poet|general|"
    r"ruler|pharaoh|monarch|prime minister|minister|person|man|woman|player|actor|actress|singer|director|"
    r"explorer|philosopher|physicist|chemist|architect|artist|saint|pope|sultan|caliph|khan"
)
_RELATION = (
    r"wife|wives|husband|husbands|brother|sister|son|daughter|father|mother|spouse|partner|companion|students?|"
    r"teachers?|successor|predecessor|married|marry|succeeded|taught"
)
_ROLE_NOUNS = r"position|role|title|job|office|rank|post|profession|occupation|function|capacity|responsibility"
_CITY_NOUNS = r"city|cities|town|village|capital|municipality|port"
_COUNTRY_NOUNS = r"country|nation|state|kingdom|empire"
_PLACE_NOUNS = (
    r"place|region|province|continent|island|area|county|district|location|river|mountain|sea|ocean|"
    r"territory|neighbourhood|neighborhood|street|building|venue|stadium|base|site"
)
_YESNO_START = re.compile(
    r"^\s*(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|may|might)\b", re.IGNORECASE
)
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class QuestionAnalysis:
    """The expected answer type, the focus (what is asked about) and the subject entities."""

    text: str
    answer_type: str
    focus: str | None = None
    subjects: tuple[str, ...] = ()  # named entities of the question, as written
    subject_stems: tuple[frozenset[str], ...] = ()  # stems of each subject
    predicate: frozenset[str] = field(default_factory=frozenset)  # content stems that are not the subject
    event: str | None = None  # the event asked about, when the question names one ("born", "founded")
    stems: frozenset[str] = field(default_factory=frozenset)  # all content stems of the question
    numbers: frozenset[str] = field(default_factory=frozenset)  # digits the question names

    @property
    def family(self) -> str:
        """The coarse type: place, date, measure, name, count, money, percentage, yesno, title, description."""
        t = self.answer_type
        if t in PLACE_TYPES:
            return "place"
        if t in DATE_TYPES:
            return "date"
        if t in MEASURE_TYPES:
            return "measure"
        if t in NAME_TYPES:
            return "name"
        return t


def _answer_type(q: str) -> tuple[str, str | None]:
    """(answer type, focus word) from the question's wording (lower case)."""
    if re.search(r"\b(headline|title) of (this|the) (article|story|piece|page|report)\b", q):
        return "title", "title"
    if m := re.search(r"\b(what|which) (percentage|percent|proportion|share|fraction)\b", q):
        return "percentage", m.group(2)
    if re.search(r"\bhow much\b", q):
        if m := re.search(rf"\b({_MONEY_WORDS})\b", q):
            return "money", m.group(1)
        if m := re.search(r"\b(weigh|weighs|weight|heavy)\b", q):
            return "size", m.group(1)
        if m := re.search(r"\b(land|area|space|water|rain|rainfall|energy|power|time)\b", q):
            return ("duration" if m.group(1) == "time" else "size"), m.group(1)
        return "count", None
    if m := re.search(r"\bhow (many|much)\s+(?:of\s+(?:the\s+|these\s+|those\s+)?)?([\w.]+)", q):
        noun = m.group(2)
        if noun in {"years", "days", "hours", "minutes", "seconds", "weeks", "months", "decades", "centuries"}:
            return "duration", noun
        if noun in {"miles", "kilometres", "kilometers", "km", "metres", "meters", "feet", "inches"}:
            return "distance", noun
        if noun in {"acres", "hectares", "square", "tons", "tonnes", "kilograms", "kg", "litres", "liters", "gallons"}:
            return "size", noun
        if noun in {"dollars", "euros", "pounds", "yen"}:
            return "money", noun
        if noun in {"percent"}:
            return "percentage", noun
        phrase = re.match(
            r"([\w.' -]+?)(?:\s+\b(?:are|were|is|was|did|do|does|have|has|had|will|would|can|could|in|on|at|didn|"
            r"don|doesn|weren|aren|wasn|isn|haven|hasn|won|can't|"
            r"of|for|by|to|that|which|who)\b|[?,]|$)",
            q[m.start(2) :],
        )
        return "count", (phrase.group(1).strip() if phrase else noun)
    if re.search(r"\bhow long an? (period|time)\b", q):
        return "duration", "long"
    if m := re.search(r"\bhow (old|long|far|tall|high|deep|big|large|wide|heavy|fast|thick|hot|cold)\b", q):
        word = m.group(1)
        if word in {"old"}:
            return "duration", word
        if word == "long" and re.search(r"\b(take|took|last|lasted|live|lived|reign|reigned|serve|served|period)\b", q):
            return "duration", word
        if word in {"far", "tall", "high", "deep", "wide", "long", "thick"}:
            return "distance", word
        return "size", word
    if re.search(r"\bnet worth\b|\bwhat did [^?]* cost\b|\bhow much [^?]*\b(gross|grossed|lend|lent|loan|loaned)\b", q):
        return "money", "cost"
    if m := re.search(rf"\b(what|which)(?: is| was| are| were)?(?: the)?(?: [\w’'.-]+){{0,3}}? ({_MEASURE_NOUNS})\b", q):  # noqa: E501
        noun = m.group(2)
        if noun == "population":
            return "count", noun
        if noun in {"age", "lifespan"}:
            return "duration", noun
        return "size", noun
    if m := re.search(rf"\b(what|which) (?:is |was )?(?:the )?({_MONEY_WORDS})\b", q):
        return "money", m.group(2)
    if m := re.search(
        rf"\b(?:what|which)(?:'s|’s| is| was| are| were)? (?:the )?(?:[\w.-]+(?:'s|’s) )?"
        rf"(?:(?:{_MONEY_ADJECTIVES}) )*({_MONEY_NOUNS})\b",
        q,
    ):  # "what was the club's annual budget", "what's the total cost of ..."
        return "money", m.group(1)
    if re.search(r"^\s*(?:what|which)(?:'s| is| was| are| were)? the (?:total )?number of\b", q):
        return "count", "number"
    if re.search(r"\bwhat time\b|\bat what time\b|\bwhat hour\b", q):
        return "time", "time"
    if m := re.search(r"\b(what|which|in which|in what) (day|date|month)\b", q):
        return "date", m.group(2)
    if m := re.search(r"\b(what|which|in which|in what) (year|century|decade)\b", q):
        return "year", m.group(2)
    if re.search(r"\bwhen\b", q):
        return "date", None
    if m := re.search(rf"\b(what|which|in which|in what)(?: is| was)?(?: the)?(?: \w+)? ({_CITY_NOUNS})(?:s|es)?\b", q):
        return "city", m.group(2)
    if m := re.search(rf"\b(what|which|in which|in what)(?: \w+)? ({_COUNTRY_NOUNS}|countries)\b", q):
        return "country", m.group(2)
    if re.search(r"\bwhere\b", q):
        return "place", None
    if m := re.search(rf"\b(what|which|in which|in what) ({_PLACE_NOUNS})\b", q):
        return "place", m.group(2)
    if re.search(rf"\b(what|which)\b.*\b({_ROLE_NOUNS})\b", q) and not re.search(r"\btitle of\b", q):
        return "description", "role"
    if re.search(r"\bwhat (does|did|do) \w+(?: \w+){0,3} do( for a living)?\s*\??$", q):
        return "description", "role"
    if m := re.search(rf"\b(what|which)(?: \w+)? ({_ORG_NOUNS})\b", q):
        return "organisation", m.group(2)
    if m := re.search(rf"\b(what|which)(?: \w+)? ({_PERSON_NOUNS})\b", q):
        return "person", m.group(2)
    if re.match(r"\s*who(m|se)?\b", q) and re.search(rf"\b({_RELATION})\b", q):
        return "person", None
    if re.match(r"\s*who(m|se)?\s+(is|was|are|were)\s+[^?]*\??\s*$", q) and not re.search(
        r"\b(the|a|an)\b|['’]s\b", q.split(" ", 2)[-1] if q.count(" ") >= 2 else ""
    ):
        return "description", "role"  # "who is Zarif?": asks what the person is
    if re.search(r"\bwho(m|se)?\b", q):
        return "person", None
    if re.search(rf"\b(what|which)\b.*\b({_RELATION})\b", q):
        return "person", None
    if _YESNO_START.match(q) and not _WH.search(q):
        return "yesno", None
    return "description", None


_FOCUS_WORDS = frozenset(
    [
        "born",
        "birth",
        "die",
        "died",
        "death",
        "dies",
        "found",
        "founded",
        "establish",
        "established",
        "form",
        "formed",
        "build",
        "built",
        "construct",
        "constructed",
        "open",
        "opened",
        "close",
        "closed",
        "start",
        "started",
        "begin",
        "began",
        "end",
        "ended",
        "invent",
        "invented",
        "discover",
        "discovered",
        "write",
        "wrote",
        "written",
        "publish",
        "published",
        "release",
        "released",
        "marry",
        "married",
        "win",
        "won",
        "elect",
        "elected",
        "become",
        "became",
        "create",
        "created",
        "launch",
        "launched",
        "sign",
        "signed",
        "kill",
        "killed",
        "destroy",
        "destroyed",
        "capture",
        "captured",
        "join",
        "joined",
        "leave",
        "left",
        "move",
        "moved",
        "live",
        "lived",
        "bury",
        "buried",
        "reign",
        "ruled",
        "rule",
        "design",
        "designed",
        "win",
        "located",
        "locate",
        "invade",
        "invaded",
        "attack",
        "attacked",
        "hold",
        "held",
        "play",
        "played",
    ]
)

_LEAD_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "the",
        "a",
        "an",
        "in",
        "on",
        "of",
        "at",
        "to",
        "and",
        "or",
        "but",
        "can",
        "could",
        "has",
        "have",
        "had",
        "will",
        "would",
        "should",
        "may",
        "might",
        "tell",
        "me",
        "about",
        "according",
        "headline",
        "article",
        "title",
    ]
)


def _subjects(question: str) -> list[str]:
    """Named entities of the question: runs of capitalised words (not the first word), quoted text."""
    found: list[str] = []
    for m in re.finditer(r"[\"“‘']([^\"”’']{2,60})[\"”’']", question):
        found.append(m.group(1))
    words = list(re.finditer(r"[\w’'.-]+", question))
    run: list[str] = []
    for i, m in enumerate(words):
        w = m.group(0).strip(".'’")
        if run and i > 0 and question[words[i - 1].end() : m.start()].strip():
            found.append(" ".join(run))  # punctuation ends a name: "Zealand, the Danish island"
            run = []
        capital = bool(w) and (w[0].isupper() or (w[0].isdigit() and bool(run)))
        lead = i == 0 or w.lower() in _LEAD_WORDS
        if capital and not (lead and w.lower() in _LEAD_WORDS):
            if i == 0 and w.lower() in _LEAD_WORDS:
                continue
            run.append(w)
        elif run and w.lower() in {"of", "de", "the", "von", "van", "der", "da", "di", "du", "la", "le", "al", "bin"}:
            run.append(w)
        else:
            if run:
                found.append(" ".join(run))
            run = []
    if run:
        found.append(" ".join(run))
    out = []
    for s in found:
        s = re.sub(r"\s+(of|de|the|von|van|der|da|di|du|la|le|al|bin)$", "", s)
        if _entity_stems(s) and s not in out:
            out.append(s)
    return out


_CONTRACTION = re.compile(r"\b(what|who|where|when|how)(?:'|’)?s\b")


@lru_cache(maxsize=4096)
def analyze(question: str) -> QuestionAnalysis:
    """The answer type, focus and subjects of one question."""
    q = _CONTRACTION.sub(r"\1 is", " ".join(question.lower().split()))  # "whats the area" asks like "what is"
    answer_type, focus = _answer_type(q)
    stems = frozenset(tokenize(question))
    subjects = tuple(_subjects(question))
    subject_stems = tuple(frozenset(_entity_stems(s)) for s in subjects)
    in_subjects = frozenset().union(*subject_stems) if subject_stems else frozenset()
    if focus is None:
        for word in re.findall(r"[a-z]+", q):
            if word in _FOCUS_WORDS:
                focus = word
                break
    predicate = stems - in_subjects
    numbers = frozenset(n.replace(",", "") for n in re.findall(r"\d+(?:[.,]\d+)*", question))
    event = next((w for w in re.findall(r"[a-z]+", q) if w in _FOCUS_WORDS), None)
    return QuestionAnalysis(question, answer_type, focus, subjects, subject_stems, predicate, event, stems, numbers)


# ---- follow-ups ---------------------------------------------------------------------------


def with_history(analysis: QuestionAnalysis, earlier: str) -> QuestionAnalysis:
    """A dependent question about the earlier questions' subject when it names none itself."""
    if analysis.subjects or not earlier:
        return analysis
    before = analyze(earlier)
    if not before.subjects:
        return analysis
    return replace(analysis, subjects=before.subjects, subject_stems=before.subject_stems)


_PRONOUNS = re.compile(
    r"\b(he|she|it|they|him|her|his|hers|its|their|theirs|them|this|that|these|those|there|then|the same|"
    r"the other|the latter|the former)\b",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(
    r"^\s*(and|but|also|so|or|then|what about|how about|and what about|what else|why not|same for|"
    r"and the|what of)\b",
    re.IGNORECASE,
)


def depends_on_history(question: str) -> bool:
    """True when the question cannot be understood alone: it needs the earlier questions.

    An ellipsis ("and how many failed?", "what about Irbil?"), a pronoun with nothing in
    the question it could refer to ("when did he die?"), or a fragment of two words or
    fewer ("the second one?"). A question naming its own subject is self-contained.
    """
    q = " ".join(question.split())
    if _ELLIPSIS.match(q):
        return True
    words = re.findall(r"\w+", q)
    if len(words) <= 2 and not _subjects(q):
        return True  # "where?", "how many?"
    if len(words) <= 3 and not _subjects(q) and not _WH.match(q) and not _YESNO_START.match(q):
        return True
    pronoun = _PRONOUNS.search(q)
    if pronoun is None:
        return False
    if pronoun.group(1).lower() in {"that", "this", "there", "then"} and _subjects(q):
        return False  # "what year was that treaty with France?": names its own subject
    if pronoun.group(1).lower() in {"that", "this", "these", "those"} and re.search(
        rf"\b{pronoun.group(1)}\s+(article|story|document|text|report)\b", q, re.IGNORECASE
    ):
        return False  # "this article" is the document, not an earlier question
    before = q[: pronoun.start()]
    # an antecedent inside the question itself ("Did Curie say she ...") keeps it self-contained
    return not _subjects(before)


# ---- answer spans ---------------------------------------------------------------------------

_NUM_WORD = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|dozens?|"
    r"a dozen|hundreds|thousands?|millions?|billions?|several|a few|multiple|tens|scores"
)
_NUM = rf"(?:(?:about|around|approximately|nearly|almost|over|more than|less than|fewer than|some|at least|up to|c\.|ca\.)\s+)?(?:\d+(?:[.,]\d+)*(?:\s*(?:million|billion|trillion|thousand|hundred|m|bn))?|(?:{_NUM_WORD})(?:[\s-](?:{_NUM_WORD}))*)"  # noqa: E501
_MONEY = lazy_compile(
    rf"(?:(?:US|A|C|NZ|HK)?[$€£¥₹]\s?\d+(?:[.,]\d+)*(?:\s*(?:million|billion|trillion|thousand|m|bn))?)|"
    rf"(?:{_NUM}\s+(?:(?:US|U\.S\.|Canadian|Australian|Hong Kong)\s+)?(?:dollars?|euros?|pounds?(?! of)|pounds sterling|yen|"  # noqa: E501
    rf"yuan|rupees?|francs?|marks?|roubles?|rubles?|pesos?|dinars?|riyals?|USD|EUR|GBP|guineas?|shillings?|cents?))",
    re.IGNORECASE,
)
_PERCENT = lazy_compile(rf"{_NUM}\s*(?:%|per ?cent\b|percentage points?\b)", re.IGNORECASE)
_UNIT_CLASSES = {
    "length": r"km|kilomet(?:re|er)s?|mi|miles?|m|met(?:re|er)s?|cm|centimet(?:re|er)s?|mm|millimet(?:re|er)s?|"
    r"ft|feet|foot|inch(?:es)?|in|yards?|yd|nautical miles?|light[- ]years?|au|astronomical units?|fathoms?|"
    r"kilometres long|metres tall",
    "area": r"km2|km²|m2|m²|sq ?mi|sq ?km|square (?:kilomet(?:re|er)s?|miles?|met(?:re|er)s?|feet|foot)|"
    r"acres?|hectares?|ha",
    "mass": r"kg|kilograms?|g|grams?|tonnes?|tons?|t|lb|lbs|pounds?|ounces?|oz|mg|milligrams?",
    "volume": r"litres?|liters?|l|ml|millilitres?|gallons?|cubic (?:kilomet(?:re|er)s?|met(?:re|er)s?|feet)|m3|m³|km3|km³|barrels?",  # noqa: E501
    "speed": r"km/h|kmh|kph|mph|m/s|knots?|miles per hour|kilomet(?:re|er)s per hour|metres per second|mach",
    "temperature": r"°\s?[CFK]|degrees?(?: (?:celsius|fahrenheit|kelvin|C|F))?|kelvin|K",
    "duration": r"years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries|century|millennia|"
    r"millennium|yrs?|hrs?|mins?",
    "density": r"g/cm3|g/cm³|kg/m3|kg/m³|g/l",
    "power": r"watts?|W|kW|MW|GW|kWh|MWh|GWh|TWh|horsepower|hp|volts?|V|joules?|J|calories?|kcal",
}
_UNIT_RE = {
    name: lazy_compile(rf"{_NUM}(?:\s|-)?(?:{units})(?![\w])", re.IGNORECASE if name != "power" else 0)
    for name, units in _UNIT_CLASSES.items()
}
_YEAR = lazy_compile(
    r"\b(?:(?:in|by|since|from|until|circa|c\.|around|about)\s+)?(?:\d{1,2}(?:st|nd|rd|th)?\s+)?"
    r"(?:(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+)?"
    r"(?:\d{1,2},?\s+)?(?:1\d{3}|20\d{2}|\d{1,4}\s?(?:BC|BCE|AD|CE))\b(?:\s?(?:BC|BCE|AD|CE)\b)?|"
    r"\b\d{1,2}(?:st|nd|rd|th) (?:century|millennium)(?: (?:BC|BCE|AD|CE))?|"
    r"\b(?:1\d|20)\d0s\b|"
    r"\b(?:the )?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
    r"twenty-first) (?:century|millennium)(?: (?:BC|BCE|AD|CE))?"
)
_EARLY_YEAR = lazy_compile(
    r"\b(?:AD|CE)\s?\d{1,4}\b|\b\d{1,4}\s?(?:AD|CE)\b|"
    r"\b(?i:in|from|until|till|to|by|since|circa|c\.)\s+\d{2,3}(?=\s*(?:[,.;:)–-]|$|\s+(?:and|to|until|BC|BCE|AD|CE)\b))"
)
_YEAR_RANGE = lazy_compile(r"\b(?:1\d{3}|20\d{2}|\d{2,3})\s?[–-]\s?(?:1\d{3}|20\d{2}|\d{2,3})\b")
_DAY_MONTH = lazy_compile(
    r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2}\b"
)
_DAY = lazy_compile(
    r"\b(?:(?:last|next|on|this)\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|"
    r"today|tonight|tomorrow)(?:\s+(?:morning|afternoon|evening|night))?\b|"
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"(?:\s+\d{1,2})?\b(?!\s+\d{4})|\blast (?:week|month|year)\b|\b\d+ (?:days|weeks|months|years) (?:ago|later|earlier)\b"  # noqa: E501
)
_CLOCK = lazy_compile(
    r"\b\d{1,2}(?::\d{2})?\s?(?:a\.?m\.?|p\.?m\.?)|\b\d{1,2}:\d{2}\b|\b(?:noon|midnight)\b", re.IGNORECASE
)
_COUNT = lazy_compile(rf"(?<![\w$€£¥.,-]){_NUM}(?![\w%])", re.IGNORECASE)
_LIFE = lazy_compile(
    r"\((?:[^()]*?;\s*)?(?:born\s+)?[^()]*?\d{3,4}(?:\s?BC)?\s*[–-]\s*[^()]*?\d{1,4}[^()]*\)|\(born [^()]*\d{3,4}[^()]*\)|\bborn\b",  # noqa: E501
    re.IGNORECASE,
)
_CAPITAL_RUN = lazy_compile(
    r"(?:[A-Z][\w’'.-]*|\d+(?:st|nd|rd|th)?)(?:\s+(?:(?:of|de|the|von|van|der|da|di|du|la|le|al|bin|and|&|y)\s+)*"
    r"(?:[A-Z][\w’'.-]*))*"
)
ROLE_WORDS = re.compile(
    r"\b(president|vice[- ]president|prime minister|minister|secretary|chancellor|king|queen|prince|princess|"
    r"emperor|empress|pope|bishop|archbishop|cardinal|general|admiral|colonel|captain|commander|officer|"
    r"director|chairman|chairwoman|chair|ceo|chief|head|leader|founder|co-founder|member|mayor|governor|"
    r"senator|representative|ambassador|spokesman|spokeswoman|spokesperson|negotiator|adviser|advisor|"
    r"professor|lecturer|teacher|editor|writer|author|journalist|reporter|correspondent|photographer|"
    r"composer|painter|poet|novelist|philosopher|scientist|physicist|chemist|mathematician|economist|"
    r"engineer|architect|actor|actress|singer|musician|player|coach|manager|owner|judge|lawyer|priest|"
    r"emir|sultan|caliph|shah|khan|tsar|czar|duke|lord|sir|dame|corporal|sergeant|lieutenant|major|private|"
    r"marine|soldier|guard|commissioner|inspector|deputy|treasurer|clerk|producer|designer|inventor|"
    r"explorer|historian|theologian|rabbi|imam|ayatollah|cleric|monk|saint|physician|doctor|surgeon|nurse|"
    r"diplomat|politician|statesman|activist|ruler|regent|consul|dictator|pharaoh|warlord|strategist|"
    r"analyst|researcher|founder|pioneer|entrepreneur|businessman|businesswoman|banker|investor)s?\b",
    re.IGNORECASE,
)
_COUNTRIES = frozenset(
    [
        "afghanistan",
        "albania",
        "algeria",
        "andorra",
        "angola",
        "argentina",
        "armenia",
        "australia",
        "austria",
        "azerbaijan",
        "bahamas",
        "bahrain",
        "bangladesh",
        "barbados",
        "belarus",
        "belgium",
        "belize",
        "benin",
        "bhutan",
        "bolivia",
        "bosnia",
        "botswana",
        "brazil",
        "brunei",
        "bulgaria",
        "burkina",
        "burundi",
        "cambodia",
        "cameroon",
        "canada",
        "chad",
        "chile",
        "china",
        "colombia",
        "comoros",
        "congo",
        "croatia",
        "cuba",
        "cyprus",
        "czechia",
        "czech",
        "denmark",
        "djibouti",
        "dominica",
        "ecuador",
        "egypt",
        "england",
        "eritrea",
        "estonia",
        "eswatini",
        "ethiopia",
        "fiji",
        "finland",
        "france",
        "gabon",
        "gambia",
        "georgia",
        "germany",
        "ghana",
        "greece",
        "grenada",
        "guatemala",
        "guinea",
        "guyana",
        "haiti",
        "honduras",
        "hungary",
        "iceland",
        "india",
        "indonesia",
        "iran",
        "iraq",
        "ireland",
        "israel",
        "italy",
        "jamaica",
        "japan",
        "jordan",
        "kazakhstan",
        "kenya",
        "kiribati",
        "korea",
        "kosovo",
        "kuwait",
        "kyrgyzstan",
        "laos",
        "latvia",
        "lebanon",
        "lesotho",
        "liberia",
        "libya",
        "liechtenstein",
        "lithuania",
        "luxembourg",
        "madagascar",
        "malawi",
        "malaysia",
        "maldives",
        "mali",
        "malta",
        "mauritania",
        "mauritius",
        "mexico",
        "micronesia",
        "moldova",
        "monaco",
        "mongolia",
        "montenegro",
        "morocco",
        "mozambique",
        "myanmar",
        "burma",
        "namibia",
        "nauru",
        "nepal",
        "netherlands",
        "holland",
        "nicaragua",
        "niger",
        "nigeria",
        "norway",
        "oman",
        "pakistan",
        "palau",
        "palestine",
        "panama",
        "paraguay",
        "peru",
        "philippines",
        "poland",
        "portugal",
        "qatar",
        "romania",
        "russia",
        "rwanda",
        "samoa",
        "senegal",
        "serbia",
        "seychelles",
        "singapore",
        "slovakia",
        "slovenia",
        "somalia",
        "spain",
        "sudan",
        "suriname",
        "sweden",
        "switzerland",
        "syria",
        "taiwan",
        "tajikistan",
        "tanzania",
        "thailand",
        "togo",
        "tonga",
        "tunisia",
        "turkey",
        "turkmenistan",
        "tuvalu",
        "uganda",
        "ukraine",
        "uruguay",
        "uzbekistan",
        "vanuatu",
        "venezuela",
        "vietnam",
        "yemen",
        "zambia",
        "zimbabwe",
        "scotland",
        "wales",
        "britain",
        "america",
        "usa",
        "uk",
        "us",
        "kurdistan",
        "persia",
        "prussia",
        "ussr",
        "europe",
        "asia",
        "africa",
        "antarctica",
        "oceania",
    ]
)
_REGION_WORDS = re.compile(
    r"\b(north|south|east|west|northern|southern|eastern|western|central|north-east|north-west|south-east|"
    r"south-west|northeastern|northwestern|southeastern|southwestern|province|region|state|county|district|"
    r"continent|kingdom|empire|republic)\b",
    re.IGNORECASE,
)
_PLACE_PREP = re.compile(
    r"\b(?:in|at|near|from|to|into|outside|inside|off|between|across|around|on)\s+(?:the\s+)?"
    r"((?:[A-Z][\w’'.-]*)(?:[\s-]+(?:(?:of|de|the|la|le|al|upon|on|am|en|sur)[\s-]+)*[A-Z][\w’'.-]*)*)"
)
# Names of places and things, not of anyone who could do something ("who ...?").
_NOT_PERSON = re.compile(
    r"\b(Base|Air|Museum|River|Sea|Ocean|Mountains?|Island|City|Street|Station|Airport|Bridge|Palace|Hall|"
    r"Prize|Award|Games|Cup|War|Battle|Treaty|Act|Osprey|Revolution|Dynasty|Era|Age|Period|Islands|Mount|Lake|"
    r"Valley|Desert|Gulf|Bay|Strait|Canal|Road|Avenue|Square|Park|Province|County)\b"
)
# A group that acts: "the Iranian government", "Iraqi officials".
_AGENT = re.compile(
    r"\b(?:(?!(?:The|A|An)\b)[A-Z][\w’'-]*\s+)+(?:government|officials?|military|army|forces|troops|police|authorities|ministry|"
    r"regime|parliament|court|council|leaders?|administration|navy|rebels|militias?|people)\b"
)
_AFTER_FOCUS_NAME = re.compile(
    r"\b(?:capital|city|town)(?:\s+(?:city|is|was|of\s+\w+\s+is))?\s+((?:[A-Z][\w’'.-]*)(?:[\s-]+[A-Z][\w’'.-]*)*)"
)
_OF_PLACE = re.compile(r"\bof\s+(?:the\s+)?((?:[A-Z][\w’'.-]*)(?:[\s-]+[A-Z][\w’'.-]*)*)")
_NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "of",
        "he",
        "she",
        "it",
        "they",
        "his",
        "her",
        "its",
        "their",
        "this",
        "that",
        "these",
        "those",
        "there",
        "but",
        "and",
        "or",
        "when",
        "where",
        "what",
        "which",
        "who",
        "however",
        "after",
        "before",
        "during",
        "while",
        "although",
        "though",
        "since",
        "until",
        "because",
        "if",
        "as",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "i",
        "we",
        "you",
    ]
)


@dataclass(frozen=True, slots=True)
class Found:
    """A span of the expected type inside a sentence (offsets into the sentence)."""

    start: int
    end: int
    kind: str


def _new(question: QuestionAnalysis, text: str) -> bool:
    """The span says something the question does not: a stem or a number the question lacks."""
    stems = set(tokenize(text))
    if stems - question.stems:
        return True
    digits = {n.replace(",", "") for n in re.findall(r"\d+(?:[.,]\d+)*", text)}
    return bool(digits - question.numbers)


def _first(
    question: QuestionAnalysis, pattern: re.Pattern[str], sentence: str, kind: str, group: int = 0
) -> list[Found]:
    out = []
    for m in pattern.finditer(sentence):
        start, end = m.span(group)
        piece = sentence[start:end].strip()
        if not piece:
            continue
        start = sentence.index(piece, start)
        if _new(question, piece):
            out.append(Found(start, start + len(piece), kind))
    return out


def _units_for(question: QuestionAnalysis) -> list[str]:
    focus = (question.focus or "").lower()
    if question.answer_type == "duration":
        return ["duration", "length"] if focus == "long" else ["duration"]
    if focus == "long":
        return ["length", "duration"]
    if focus in _MASS_FOCUS:
        return ["mass"]
    if focus in _LENGTH_FOCUS:
        return ["length"]
    if focus in _SPEED_FOCUS:
        return ["speed"]
    if focus in _TEMP_FOCUS:
        return ["temperature"]
    if focus in {"density"}:
        return ["density"]
    if focus in {"volume", "capacity"}:
        return ["volume"]
    if focus in {"area", "land"}:
        return ["area"]
    if focus in {"big", "large", "size"}:
        return ["area", "length", "volume", "mass"]
    if focus in {"energy", "power"}:
        return ["power"]
    return list(_UNIT_CLASSES)


def _names(sentence: str) -> list[tuple[int, int]]:
    """Runs of capitalised words that are not just the sentence's first word."""
    out = []
    for m in _CAPITAL_RUN.finditer(sentence):
        text = m.group(0).strip(" .'’")
        if not text or text.lower() in _NOT_NAMES or not any(ch.isalpha() for ch in text):
            continue
        start = sentence.index(text, m.start())
        if text.startswith(("The ", "A ", "An ")):
            start += text.index(" ") + 1
            text = text[text.index(" ") + 1 :]
        if start == 0 and " " not in text and len(text) < 4:
            continue
        out.append((start, start + len(text)))
    return out


def _place_is_country(text: str) -> bool:
    words = [w.lower().strip(".’'") for w in re.findall(r"[\w’'.-]+", text)]
    return bool(words) and all(w in _COUNTRIES or w in {"the", "of", "united", "states", "kingdom"} for w in words)


_NAMED_PLACE_NOUNS = frozenset(["river", "mountain", "island", "sea", "ocean", "lake", "street", "stadium", "building", "bridge"])  # noqa: E501
_FACILITY_AFTER = re.compile(
    r"\s+(?:military\s+|air\s+|naval\s+)?(?:base|airport|airfield|station|river|camp|facility|prison|stadium)\b"
)


def _near_focus(question: QuestionAnalysis, sentence: str, start: int) -> bool:
    """For "where was X born / killed / founded?": the place follows the event word closely."""
    focus = (question.event or question.focus or "").lower()
    if focus not in _FOCUS_WORDS:
        return True
    want = set(tokenize(focus))
    at = [m.end() for m in re.finditer(r"\w+", sentence) if set(tokenize(m.group(0))) & want]
    if focus in {"born", "birth"}:
        at += [m.end() for m in re.finditer(r"\bnative of\b|\bnatives?\b", sentence)]
    return not want or any(-40 <= start - a <= 60 for a in at)


_UNIT_AFTER = re.compile(
    r"(?:\s|-)?(?:km|m|cm|mm|mi|ft|kg|g|lb|t|°|%|metres?|meters?|miles?|feet|kilomet\w*|kilogram\w*|tonnes?)\b"
)


def _counts_focus(question: QuestionAnalysis, sentence: str, start: int, end: int) -> bool:
    """"How many teeth?": the number sits next to what is counted ("about 300 ... teeth")."""
    focus = (question.focus or "").lower()
    if not focus or focus in {"number"}:
        return True
    want = set(tokenize(focus))
    if focus == "population" or want & {"peopl", "resid", "inhabit"}:
        want |= {"peopl", "popul", "inhabit", "resid", "citizen"}
    near = set(tokenize(sentence[max(0, start - 25) : start])) | set(tokenize(sentence[end : end + 45]))
    return not want or any(_close(w, near) for w in want)


def find_spans(question: QuestionAnalysis, sentence: str, is_title: bool = False) -> list[Found]:
    """Every span of the sentence that is of the expected type and new to the question."""
    kind = question.answer_type
    if kind == "title":
        return [Found(0, len(sentence), "title")] if is_title else []
    if kind == "money":
        return _first(question, _MONEY, sentence, "money")
    if kind == "percentage":
        return _first(question, _PERCENT, sentence, "percentage")
    if kind in MEASURE_TYPES or (
        kind == "count" and question.focus in _MEASURE_NOUNS.split("|") and question.focus != "population"
    ):
        found: list[Found] = []
        for unit in _units_for(question):
            found += _first(question, _UNIT_RE[unit], sentence, unit)
        if kind == "duration" or question.focus == "long":
            found += _first(question, _YEAR_RANGE, sentence, "duration")
        if kind == "duration" and question.focus in {"old", "age"}:
            found += _first(
                question, re.compile(r"\b(?:aged|age(?: of)?)\s+\d+\b|\b\d+[- ]years?[- ]old\b"), sentence, "duration"
            )
        return sorted(found, key=lambda f: f.start)
    if kind == "count":
        found = []
        for m in _COUNT.finditer(sentence):
            piece = m.group(0)
            if re.fullmatch(r"(?:1\d{3}|20\d{2})", piece.strip()) and question.focus not in {"population", "number"}:
                continue  # a year is not a count
            after = sentence[m.end() : m.end() + 12]
            if re.match(r"\s*(?:%|per ?cent|(?:st|nd|rd|th)\b)", after):
                continue
            if piece.strip().lower() in {"no", "none"}:
                continue
            word = piece.strip().lower()
            part = re.match(r"\s*of\s+(?:those|these|them|his|her|their|its|which|whom)\b", after) and word != "one"
            many = word in {"hundreds", "thousands", "millions", "billions", "dozens", "tens", "scores"}
            if not (part or many) and (re.match(r"\s*of\b", after) or _UNIT_AFTER.match(sentence, m.end())):
                continue  # "one of the ...", "2,639 m": not a count
            if not _counts_focus(question, sentence, m.start(), m.end()):
                continue
            start = m.start() + (len(piece) - len(piece.lstrip()))
            text = piece.strip()
            if _new(question, text):
                found.append(Found(start, start + len(text), "count"))
        found += _first(question, _MONEY, sentence, "money") if question.focus is None else []
        return sorted(found, key=lambda f: f.start)
    if kind in DATE_TYPES:
        found = _first(question, _YEAR, sentence, "year")
        found += [f for f in _first(question, _EARLY_YEAR, sentence, "year") if not any(g.start <= f.start < g.end for g in found)]  # noqa: E501
        if kind == "time":
            return _first(question, _CLOCK, sentence, "time")
        if kind == "date" and question.focus in {"date", "day"}:
            # "on what date": a day and month, not a year alone
            return [f for f in found + _first(question, _DAY, sentence, "date") if _DAY_MONTH.search(sentence[f.start : f.end])]  # noqa: E501
        if kind != "year":
            found += _first(question, _DAY, sentence, "date")
        return sorted(found, key=lambda f: f.start)
    if kind in PLACE_TYPES:
        found = []
        preps = [_PLACE_PREP]
        if question.focus in {"province", "region", "state", "county", "district", "country", "territory"} | (
            _NAMED_PLACE_NOUNS
        ):
            preps.append(_OF_PLACE)
        if question.focus in {"capital", "city", "town"}:
            preps.append(_AFTER_FOCUS_NAME)
        for m in (m for pattern in preps for m in pattern.finditer(sentence)):
            start, end = m.span(1)
            text = sentence[start:end].rstrip(".’'")
            end = start + len(text)
            if text.lower() in _NOT_NAMES or not _new(question, text):
                continue
            if _YEAR.fullmatch(text) or _DAY.fullmatch(text):
                continue
            if not _near_focus(question, sentence, start):
                continue
            if question.focus in _NAMED_PLACE_NOUNS and question.focus not in text.lower():
                continue  # "which river?": "the Nakdong River", not the country it flows through
            if _FACILITY_AFTER.match(sentence, end):
                continue  # "on Al-Asad military base": the name of a base, not of a city
            if kind == "city" and (_place_is_country(text) or _REGION_WORDS.search(text)):
                continue
            if (
                kind == "country"
                and not _place_is_country(text)
                and not re.search(r"\b(Republic|Kingdom|Empire|States)\b", text)
            ):
                continue
            found.append(Found(start, end, kind))
        if kind == "country":
            for start, end in _names(sentence):
                if _place_is_country(sentence[start:end]) and _new(question, sentence[start:end]):
                    found.append(Found(start, end, kind))
        return sorted(found, key=lambda f: f.start)
    if kind in NAME_TYPES:
        roles = [r for r in ROLE_WORDS.findall(question.text) if r.islower()] if kind == "person" else []
        said = set(tokenize(sentence))
        if any(not all(_close(s, said) for s in tokenize(r)) for r in roles):
            return []  # "who is the president of Iran?": the sentence must say president
        agents = _first(question, _AGENT, sentence, kind) if kind == "person" else []
        found = list(agents)
        for start, end in _names(sentence):
            if any(a.start <= start < a.end or start <= a.start < end for a in agents):
                continue
            text = sentence[start:end]
            if not _new(question, text) or _YEAR.fullmatch(text) or _place_is_country(text):
                continue
            if kind == "person" and (len(text) < 3 or _NOT_PERSON.search(text) or re.search(r"\d", text)):
                continue
            found.append(Found(start, end, kind))
        return sorted(found, key=lambda f: f.start)
    if kind == "description" and question.focus == "role":
        roles = _first(question, ROLE_WORDS, sentence, "role")
        if roles:
            return roles
        # "who is Amaterasu?" - "the goddess of the sun"; "what was Nijinsky's profession?" - "a ballet dancer"
        definition = _definition(question, sentence)
        return [definition] if definition else []
    if kind == "yesno":
        # a yes/no answer confirms or denies: a sentence about the subject (checked by the caller)
        return [Found(0, len(sentence.rstrip()), kind)]
    # descriptions: the sentence must state something the question asks about, and add something
    said = set(tokenize(sentence))
    asked = [s for s in question.predicate if s not in _GENERIC]
    if asked and not any(_close(s, said) for s in asked):
        return []
    stems = said - question.stems
    negation = re.search(r"\b(no|not|never|none|nobody|nothing|neither|nor)\b", sentence, re.IGNORECASE)
    if not stems and not (negation and not re.search(rf"\b{negation.group(1)}\b", question.text, re.IGNORECASE)):
        return []
    return [_definition(question, sentence) or Found(0, len(sentence.rstrip()), kind)]


_COPULA = re.compile(r"\b(?:is|was|are|were)\s+(?:(?:a|an|the)\s+)?([^,;:()]+?)(?=\s*(?:[,;:(]|\.\s|\.?$|\swho\b|\swhich\b))")  # noqa: E501


_GENERIC = frozenset(tokenize("type kind name called call known mean means happen happened use used stand"))


def _definition(question: QuestionAnalysis, sentence: str) -> Found | None:
    """For "what / who is X?": what the sentence says X is ("a French composer")."""
    if not re.match(r"\s*(what|who)(?:s|'s|’s| is| was| are| were)\b", question.text, re.IGNORECASE):
        return None
    m = _COPULA.search(sentence)
    if m is None or not _new(question, m.group(1)) or len(m.group(1).split()) > 12:
        return None
    return Found(m.start(1), m.end(1), "description")


# ---- the subject ------------------------------------------------------------------------------

_ANAPHORA = re.compile(
    r"\b(he|she|it|they|him|her|his|its|their|them|this|these|the (?:city|company|band|group|team|country|town|party|film|book|album|game|species|river|building|empire|state|university))\b",  # noqa: E501
    re.IGNORECASE,
)


def _close(stem: str, present: set[str]) -> bool:
    """The stem, or one within a typo of it (the question may be misspelt)."""
    if stem in present:
        return True
    if len(stem) < 5:
        return False
    from rapidfuzz.distance import OSA

    # one edit, a swap of two neighbouring letters counting as one ("andriod")
    return any(abs(len(p) - len(stem)) <= 1 and OSA.distance(p, stem, score_cutoff=1) <= 1 for p in present)


_US = re.compile(r"\b(?:U\.S\.A?\.?|USA|US|U\.S|America)(?![\w.])")


def _entity_stems(text: str) -> list[str]:
    """Stems, with the many spellings of the United States as one."""
    folded = unicodedata.normalize("NFKD", _US.sub("Usacountry", text))
    if not folded.isascii():  # drop the combining marks: "Çatalhöyük" is "Catalhoyuk"
        marks = {ord(c): None for c in set(folded) if unicodedata.combining(c)}
        folded = folded.translate(marks) if marks else folded
    return tokenize(folded)


def is_fragment(sentence: str) -> bool:
    """A caption credit or other short piece that belongs to the sentence before it."""
    return sentence.lstrip().startswith("(") or len(sentence.split()) < 6


SUBJECT_RAREST = 2  # with no named entity, one of the question's 2 rarest words stands for the subject


# Words that point at the document itself ("according to the headline", "in the picture"), never its subject.
_META_STEMS = frozenset(tokenize("headline article picture photo photograph image caption story report text document"))


def _in_wh_phrase(question: QuestionAnalysis, index: int) -> bool:
    """Is the index-th name part of the thing asked for ("Which TV network ...")? Only with another name."""
    if len(question.subjects) < 2:
        return False
    name = re.escape(question.subjects[index])
    return bool(re.match(rf"\s*(?:which|what)\s+(?:\w+\s+)?{name}\b", question.text, re.IGNORECASE))


def names_subject(question: QuestionAnalysis) -> bool:
    """Does the question name its subject (rather than leave it to its rarest words)?"""
    return any(g and not _in_wh_phrase(question, i) for i, g in enumerate(question.subject_stems))


def subject_found(question: QuestionAnalysis, sentence: str, title: str, before: str, idf: dict[str, float]) -> bool:
    """Is the sentence about the question's subject?

    The subject must be in the sentence, in its document's title, or be what a pronoun in the
    sentence refers to (the text of the passage before it); a caption credit or other short
    fragment ("(Corporal Jered T. Stone/USMC)") is about what the sentence before it says. With no named entity in the
    question, its rarest content word stands for the subject.
    """
    present = set(_entity_stems(sentence)) | set(_entity_stems(title)) | set(tokenize(f"{title} {sentence}"))
    if before and (is_fragment(sentence) or _ANAPHORA.search(sentence)):
        present |= set(_entity_stems(before))
    groups = [g for i, g in enumerate(question.subject_stems) if g and not _in_wh_phrase(question, i)]
    if not groups:
        known = [s for s in question.stems - _META_STEMS if idf.get(s, 0.0) > 0]
        rare = sorted(known, key=lambda s: (-idf.get(s, 0.0), s))[:SUBJECT_RAREST]
        return any(_close(s, present) for s in rare) if rare else True
    main = groups[0]  # the first name the question gives is what it is about
    return all(_close(s, present) for s in main)


def subject_groups(question: QuestionAnalysis) -> list[frozenset[str]]:
    """The stems of each subject the question names (names inside the asked-for phrase left out)."""
    return [g for i, g in enumerate(question.subject_stems) if g and not _in_wh_phrase(question, i)]


def predicate_stems(question: QuestionAnalysis) -> list[str]:
    """What the question asks about its subject: its content stems that are not the subject's."""
    return sorted(s for s in question.predicate if s not in _GENERIC and s not in _META_STEMS)


def near_stem(stem: str, present: set[str]) -> bool:
    """The stem, or one within a typo of it, is among `present`."""
    return _close(stem, present)


ANAPHORA = _ANAPHORA  # a pronoun or "the city", "the band" ...: the sentence may be about what came before


def entity_stems(text: str) -> list[str]:
    """Stems of a name, accents folded and the spellings of the United States made one."""
    return _entity_stems(text)


def focus_found(question: QuestionAnalysis, sentence: str, before: str = "") -> bool:
    """The event or noun asked about ("born", "founded", "how many children") is in the sentence."""
    focus = (question.focus or "").lower()
    stems = set(tokenize(sentence))
    if question.family in {"name", "organisation"} or question.answer_type == "person":
        # "who invented / married / succeeded X?": the sentence must say so (or the one it captions)
        asked = [s for s in question.predicate if s not in _GENERIC]
        if question.event:
            asked = tokenize(question.event)  # "who discovered helium?": the sentence says discovered
        context = stems | (set(tokenize(before)) if is_fragment(sentence) else set())
        if asked and not any(_close(s, context) for s in asked):
            return False
    if question.answer_type in DATE_TYPES or question.family == "place":
        focus = (question.event or focus).lower()
        if focus in {"born", "birth"}:
            return bool(_LIFE.search(sentence)) or "birth" in stems
        if focus in {"die", "died", "death", "dies"}:
            return bool(_LIFE.search(sentence) and not re.search(r"\(born", sentence)) or bool(
                stems & {"die", "death", "kill", "execut", "assassin", "murder", "dead"}
            )
        if focus in {"found", "founded", "establish", "established", "form", "formed"}:
            return bool(stems & {"found", "establish", "form", "creat", "start", "set", "incorpor", "began", "begun"})
        if focus in {"build", "built", "construct", "constructed"}:
            return bool(stems & {"built", "build", "construct", "erect", "complet", "finish"})
    if question.answer_type == "count" and focus and focus not in {"number", "population"}:
        want = tokenize(focus)
        context = stems | set(tokenize(before))
        return (
            not want
            or any(_close(w, context) for w in want)
            or bool(
                {"peopl", "person", "resid", "inhabit", "popul"} & context and {"peopl", "resid", "inhabit"} & set(want)
            )
        )
    if question.answer_type == "count" and focus == "population":
        return bool(stems & {"popul", "inhabit", "resid", "peopl", "citizen"})
    if question.answer_type == "money" and focus in _MONEY_KINDS:
        # a budget asked, a price given is not an answer: the sentence names the kind of money
        return bool(stems & _MONEY_KINDS[focus])
    return True
