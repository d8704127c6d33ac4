"""Short answers: which span of the answer sentence is quoted, and how far it reaches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qabot.question import analyze, find_spans
from qabot.span_model import best_span


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How high does the air flow?", "The air flows poleward at a height of 12–15 km.", "12–15 km"),
        ("How long do people survive?", "Without treatment, people survive 9 to 11 years.", "9 to 11 years"),
        ("When did Shakespeare write Hamlet?", "He wrote Hamlet between 1599 and 1601.", "between 1599 and 1601"),
        ("How long did Louis XIV reign?", "Louis XIV reigned for 72 years and 110 days.", "72 years and 110 days"),
        ("How many species are there?", "There are 65,000 to 80,000 living species.", "65,000 to 80,000 living species"),  # noqa: E501
        ("How many missiles were launched?", "Officials said 15 missiles were launched.", "15 missiles"),
    ],
)
def test_a_range_is_quoted_whole(question: str, sentence: str, expected: str) -> None:
    analysis = analyze(question)
    spans = find_spans(analysis, sentence)
    assert spans, "no span of the expected type"
    start, end = best_span(analysis, sentence, spans)
    assert sentence[start:end] == expected


def test_a_range_does_not_swallow_the_next_word() -> None:
    analysis = analyze("When was al-Razi born?")
    sentence = "Al-Razi was born in 1864 or 1865 in Ray."
    start, end = best_span(analysis, sentence, find_spans(analysis, sentence))
    assert sentence[start:end] == "in 1864 or 1865"


# ---- which span: the clause that says what is asked (quality.md #60) -------------------------------


def _short(question: str, sentence: str) -> str:
    """The short answer `qabot ask` would mark in this sentence."""
    from qabot.answer import Candidate, short_span

    found = short_span(analyze(question), Candidate("doc.txt", 0, len(sentence), sentence, 0, 0.0, 0.0, 0.0, 0.0))
    return sentence[found.start : found.end]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # the clause holding the question's words, not the nearest number
        (
            "When did the French Revolution end?",
            "The French Revolution began with the Estates General of 1789 and ended with the Coup of 18 Brumaire "
            "on 9 November 1799.",
            "9 November 1799",
        ),
        (
            "When was Idi Amin overthrown?",
            "Idi Amin was a Ugandan officer who served as president from 1971 until his overthrow in 1979.",
            "in 1979",
        ),
        (
            "how many people speak vietnamese as a second language",
            "Vietnamese is spoken natively by around 86 million people, and as a second language by 11 million people.",
            "11 million",
        ),
        # another name the question gives stands next to the answer
        (
            "When did Ponce de León reach Florida?",
            "Ponce de León led the first European expeditions to Puerto Rico in 1508 and Florida in 1513.",
            "in 1513",
        ),
        # a name alone between commas is read with what follows it
        (
            "Who founded Macondo in One Hundred Years of Solitude?",
            "One Hundred Years of Solitude is a novel by Colombian author Gabriel García Márquez that tells the story "
            "of the Buendía family, whose patriarch, José Arcadio Buendía, founded the town of Macondo.",
            "José Arcadio Buendía",
        ),
        # the unit the question names
        (
            "How long is the river Nile in km?",
            "At 7,088 kilometers (4,404 mi) long, it is the longest river in the world.",
            "7,088 kilometers",
        ),
        # a word describing a noun is not a name; a title is not the person
        (
            "Who invented the world wide web?",
            "Sir Tim Berners-Lee is an English computer scientist best known as the inventor of the World Wide Web.",
            "Sir Tim Berners-Lee",
        ),
        (
            "Who is Iran's Supreme Leader?",
            "The New York Times reported that Iran’s Supreme Leader Ayatollah Ali Khamenei told the council that a "
            "response was necessary.",
            "Ayatollah Ali Khamenei",
        ),
        # a count and the whole it is taken from
        ("how many UN members voted for the UDHR", "Of the 58 members of the UN at the time, 48 voted in favour.", "48"),  # noqa: E501
        ("How many poems did Wang Wei write?", "Wang Wei wrote about 400 poems; 29 of his poems are in the anthology Three Hundred Tang Poems.", "about 400 poems"),  # noqa: E501
        # a month inside a name is not a date; born is a life's first year
        ("When were tardigrades first described?", "They were first described by the zoologist Johann August Ephraim Goeze in 1773.", "in 1773"),  # noqa: E501
        ("when was ibn khaldun born", "Ibn Khaldun, also known as Abu Zayd, 1332 – 1406, was an Arab historian.", "1332"),  # noqa: E501
    ],
)
def test_the_span_in_the_clause_that_answers(question: str, sentence: str, expected: str) -> None:
    assert _short(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("who is saeed jalili?", "Iran’s top nuclear negotiator and Representative of the Supreme Leader, Saeed Jalili, mirrored the response.", "Representative of the Supreme Leader"),  # noqa: E501
        ("What position did W. D. Hamilton hold at Oxford?", "From 1984 to his death in 2000, he was a Royal Society Research Professor at Oxford University.", "Royal Society Research Professor"),  # noqa: E501
        ("What position did Vesalius hold at the court of Charles V?", "He was a professor at Padua and later became Imperial physician at the court of Emperor Charles V.", "Imperial physician"),  # noqa: E501
        ("what posthumous title did jeongjo get", "Following the establishment of the Korean Empire, he was honored as Emperor Seon.", "Emperor Seon"),  # noqa: E501
        ("When was the Michelson–Morley experiment carried out?", "The experiment was performed between April and July 1887 in Cleveland.", "between April and July 1887"),  # noqa: E501
        ("When were ancient Egyptian texts deciphered?", "It is known from texts which were deciphered in the early 19th century.", "the early 19th century"),  # noqa: E501
        ("what time did the earthquake hit", "On 26 December 2004, at 07:58:53 local time, an earthquake struck.", "07:58:53"),  # noqa: E501
        ("Which country did the missiles hit?", "The missiles hit a base in western Iraq.", "western Iraq"),
        ("Which dynasty built the best-known sections of the Great Wall?", "Successive dynasties expanded the wall; the best-known sections were built by the Ming dynasty.", "Ming dynasty"),  # noqa: E501
        ("In which magazine did The Waste Land first appear?", "The poem first appeared in the October issue of Eliot's magazine The Criterion.", "The Criterion"),  # noqa: E501
        ("Who were the two sides in the Angolan Civil War?", "It was a struggle between the communist People's Movement for the Liberation of Angola (MPLA) and others.", "People's Movement for the Liberation of Angola (MPLA)"),  # noqa: E501
        ("who first played snooker", "First played by British Army officers stationed in India, the game is played with 22 balls.", "British Army officers"),  # noqa: E501
    ],
)
def test_a_span_is_widened_to_what_a_reader_would_quote(question: str, sentence: str, expected: str) -> None:
    assert _short(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("What was Charlie Parker's nickname?", 'Charles Parker Jr., nicknamed "Bird" or "Yardbird", was an American jazz saxophonist.', "Bird"),  # noqa: E501
        ("whats another name for a cloud chamber", "A cloud chamber, also known as a Wilson chamber, is a particle detector.", "Wilson chamber"),  # noqa: E501
        ("what was zhuge liangs courtesy name", "Zhuge Liang, courtesy name Kongming, was a statesman.", "Kongming"),
        ("what number president was franklin roosevelt", "Franklin Delano Roosevelt was the 32nd president of the United States.", "32nd"),  # noqa: E501
        ("What is Gaspard Monge known for?", "Gaspard Monge was a French mathematician, the inventor of descriptive geometry, and a teacher.", "descriptive geometry"),  # noqa: E501
        ("What is the atomic number of gold?", "Gold is a chemical element; its chemical symbol is Au and atomic number 79.", "79"),  # noqa: E501
        ("whats the drainage basin of the amur", "The Amur is 2,824 km long, and has a drainage basin of 1,855,000 km2 (716,000 mi2).", "1,855,000 km2"),  # noqa: E501
        ("what is the exact speed of light in a vacuum", "The speed of light in vacuum is a constant denoted c, exactly equal to 299792458 m⋅s−1.", "299792458 m"),  # noqa: E501
    ],
)
def test_a_shape_the_answer_type_does_not_give(question: str, sentence: str, expected: str) -> None:
    assert _short(question, sentence) == expected


def _short_in(question: str, sentence: str, title: str) -> str:
    """The short answer in a sentence of the document titled `title`."""
    from qabot.answer import Candidate, short_span

    cand = Candidate("doc.txt", 0, len(sentence), sentence, 0, 0.0, 0.0, 0.0, 0.0, None, title)
    found = short_span(analyze(question), cand)
    return sentence[found.start : found.end]


@pytest.mark.parametrize(
    ("question", "sentence", "title", "expected"),
    [
        # a lower-case question's words naming the document are its subject, not what it asks
        ("who starred in the birth of a nation", "The Birth of a Nation is a 1915 silent film directed by D. W. Griffith and starring Lillian Gish.", "The Birth of a Nation", "Lillian Gish"),  # noqa: E501
        # the same event in other words, a longer form of a word
        ("when did leland stanford die", "He was governor of California from 1862 to 1863 and sat in the Senate from 1885 until his death in 1893.", "Leland Stanford", "in 1893"),  # noqa: E501
        ("when was the colosseum finished", "Construction began under the Emperor Vespasian in 72 and was completed in AD 80 under Titus.", "Colosseum", "AD 80"),  # noqa: E501
        ("how many bones does an adult human have", "It is composed of around 270 bones at birth – this total decreases to around 206 bones by adulthood.", "Human skeleton", "around 206 bones"),  # noqa: E501
        # a bracket is about what stands before it; an apposition about the name before it
        ("In what year was Lady Chatterley's Lover published?", "His novels Sons and Lovers (1913), Women in Love (1920), and Lady Chatterley's Lover (1928) were censored.", "D. H. Lawrence", "1928"),  # noqa: E501
        ("who was the last ruler of the later zhou", "Emperor Taizu came to power after forcing Emperor Gong, the last Later Zhou ruler, to abdicate.", "Song dynasty", "Emperor Gong"),  # noqa: E501
        # widened: "ago", "or longer", "the end of", "chief librarian", a list of professions
        ("how long do dormice hibernate", "They are named for their long hibernation period of six months or longer.", "Dormouse", "six months or longer"),  # noqa: E501
        ("when did david gilmour join pink floyd", "Pink Floyd formed in London in 1965, with David Gilmour joining at the end of 1967.", "Pink Floyd", "the end of 1967"),  # noqa: E501
        ("what was eratosthenes job at the library", "Eratosthenes eventually became the chief librarian at the Library of Alexandria.", "Eratosthenes", "chief librarian"),  # noqa: E501
        ("what was max weber's profession", "Max Weber was a German sociologist, historian, jurist, and political economist who shaped sociology.", "Max Weber", "German sociologist, historian, jurist, and political economist"),  # noqa: E501
        # asked shapes: a name in a language, what follows the question's last verb
        ("what is the latin name of odysseus", "Odysseus, also known by the Latin variant Ulysses, is a legendary Greek king of Ithaca.", "Odysseus", "Ulysses"),  # noqa: E501
        ("what is sushi rice seasoned with", "Sushi is a Japanese dish made with vinegared rice, typically seasoned with sugar and salt, and fish.", "Sushi", "sugar and salt"),  # noqa: E501
    ],
)
def test_the_span_in_its_document(question: str, sentence: str, title: str, expected: str) -> None:
    assert _short_in(question, sentence, title) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("what year did huang chao declare himself emperor", "In 881, he proclaimed himself emperor of the Qi dynasty, and held the title until his death in 884.", "In 881"),  # noqa: E501
        ("How many of the missiles struck the base in western Iraq?", "Ten of those hit a base in western Iraq, one hit a base in Irbil.", "Ten"),  # noqa: E501
        ("How many Americans could the attacks have killed?", "He planned attacks that could have killed hundreds of Americans, but did not.", "hundreds of Americans"),  # noqa: E501
        ("whats the area of the sahara", "With an area of 9,200,000 square kilometres (3,600,000 sq mi), it is the largest hot desert.", "9,200,000 square kilometres"),  # noqa: E501
    ],
)
def test_spans_find_spans_now_finds(question: str, sentence: str, expected: str) -> None:
    """A capitalised "In" before a year, a count "of those", "hundreds of", a contracted "whats" (quality.md #61)."""
    assert _short(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # a name between commas is about the words before it too; "whose" asks for a possessive
        ("Who is Iran's top nuclear negotiator?", "Iran’s top nuclear negotiator and Representative of the Supreme Leader, Saeed Jalili, mirrored the response to the airstrike that killed top leader Qasem Soleimani.", "Saeed Jalili"),  # noqa: E501
        ("whose comments did he mirror?", "Iran’s negotiator, Saeed Jalili, mirrored President Trump’s comments.", "President Trump’s"),  # noqa: E501
        # the question's word inside the span ("how long ago")
        ("how long ago was the permian extinction", "The extinction took place in a 60,000-100,000 year interval around 251.9 million years ago.", "around 251.9 million years ago"),  # noqa: E501
        ("when did people start gathering grains", "Humans started gathering grains at least 105,000 years ago.", "105,000 years ago"),  # noqa: E501
        # other names: "known in X as", "the epithet", "personal name", "historically"
        ("What is the Holocaust called in Hebrew?", "The Holocaust, known in Hebrew as the Shoah, was the genocide of European Jews.", "the Shoah"),  # noqa: E501
        ("What was Basil II's epithet?", "Basil II, given the epithet the Bulgar Slayer, was the senior Byzantine emperor.", "the Bulgar Slayer"),  # noqa: E501
        ("What was the Yongle Emperor's personal name?", "The Yongle Emperor, personal name Zhu Di, was the third emperor of the Ming dynasty.", "Zhu Di"),  # noqa: E501
        ("what was gaziantep historically called", "Gaziantep, historically Aintab, is a city in Turkey.", "Aintab"),
        # the name right after a noun of the question; a place's lower-case particles
        ("What is the biggest tributary of the Columbia River?", "The river is 1,243 miles long, and its largest tributary is the Snake River.", "Snake River"),  # noqa: E501
        ("what is the administrative centre of vojvodina", "Vojvodina has 1.7 million inhabitants, and its administrative centre, Novi Sad, is the second largest city in Serbia.", "Novi Sad"),  # noqa: E501
        ("Where was Titian born?", "The most important artist of Venetian painting, he was born in Pieve di Cadore, near Belluno.", "Pieve di Cadore"),  # noqa: E501
    ],
)
def test_round_three_rules(question: str, sentence: str, expected: str) -> None:
    """quality.md #62."""
    assert _short(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # kin and succession: the person the sentence names by the asked relation
        ("who was roger ii of sicily's father", "Roger II was King of Sicily, son of Roger I of Sicily and successor to his brother Simon.", "Roger I of Sicily"),  # noqa: E501
        ("what was the name of john wesley's brother", "George Whitefield and John's brother Charles Wesley were also leaders.", "Charles Wesley"),  # noqa: E501
        # the name a sentence opens with when the other name is the question's own; a capitalised "Nicknamed"
        ("what was john wayne's real name", "Marion Robert Morrison, known professionally as John Wayne, was an American actor.", "Marion Robert Morrison"),  # noqa: E501
        ("What was John Wayne's nickname?", 'Nicknamed "Duke", he became a popular icon through his starring roles.', "Duke"),  # noqa: E501
        ("What was Faisalabad's former name?", "Faisalabad, formerly known as Lyallpur, is the second-largest city of Punjab.", "Lyallpur"),  # noqa: E501
        # the name given with the noun a "which X" question asks for
        ("kaziranga national park is in which indian state", "It lies in the Golaghat and Nagaon districts of the Indian state of Assam.", "Assam"),  # noqa: E501
        ("ibadan is the capital of which nigerian state", "Ibadan is the capital and most populous city of Oyo State, in Nigeria.", "Oyo State"),  # noqa: E501
        # an amount right after the noun a description question asks about
        ("What is the market capitalization of the New York Stock Exchange?", "It is the largest stock exchange in the world by market capitalization, exceeding $44 trillion in January 2026.", "$44 trillion"),  # noqa: E501
        ("what is the electric charge of a muon", "A muon is an elementary particle with an electric charge of −1 e and a spin of 1/2.", "electric charge of −1 e"),  # noqa: E501
        # who did what the question asks: the agent after its verb and "by"
        ("Who created Sesame Street?", "It is produced by Sesame Workshop and was created by Joan Ganz Cooney and Lloyd Morrisett.", "Joan Ganz Cooney and Lloyd Morrisett"),  # noqa: E501
        ("Who published Lolita first?", "Fear of censorship in the U.S. and Britain led to it being first published in Paris, France, in 1955 by Olympia Press.", "Olympia Press"),  # noqa: E501
        ("Who operates the GPS satellite navigation system?", "The Global Positioning System is a navigation system owned by the United States Space Force and operated by Mission Delta 31.", "Mission Delta 31"),  # noqa: E501
        # the fewest words between the figure and what the question asks: the counted noun, the measure's adjective
        ("how many players are on a volleyball team", "Volleyball is a team sport in which two teams of six players are separated by a net.", "six players"),  # noqa: E501
        ("How long can a brown bear's paws be?", "It has paws up to 21 cm (8.3 in) wide and 36 cm (14 in) long, to dig through dirt.", "36 cm"),  # noqa: E501
        ("in how many countries and territories was coca-cola sold in 2013", "In 2013, Coke products were sold in over 200 countries and territories worldwide.", "over 200 countries"),  # noqa: E501
        ("how many short stories did f scott fitzgerald publish", "He published four novels, four story collections, and 164 short stories.", "164 short stories"),  # noqa: E501
        # an end: the range that ends, a date after "until"; a role's years; a list of days
        ("when did the kingdom of galicia volhynia come to an end", "The Principality or, from 1253, Kingdom of Galicia–Volhynia was a medieval state which existed from 1199 to 1349.", "from 1199 to 1349"),  # noqa: E501
        ("What position did Metternich hold from 1821?", "He was Austrian foreign minister from 1809 and chancellor from 1821 until the Revolutions of 1848.", "chancellor"),  # noqa: E501
        ("What title did Eleanor of Aquitaine hold from 1154 to 1189?", "Eleanor was Queen of France from 1137 to 1152 as the wife of King Louis VII, and Queen of England from 1154 to 1189.", "Queen of England"),  # noqa: E501
        ("What position did Zhuge Liang hold under Liu Bei?", "He served as chancellor under its founding emperor Liu Bei from 221.", "chancellor"),  # noqa: E501
        ("what day were the atomic bombs dropped on hiroshima and nagasaki", "On 6 and 9 August 1945, the United States detonated two atomic bombs over Hiroshima and Nagasaki.", "6 and 9 August 1945"),  # noqa: E501
        # an acronym in brackets does not end a clause; a place with its land noun
        ("When did Angela Merkel lead the CDU?", "She was Leader of the Opposition from 2002 to 2005 and Leader of the Christian Democratic Union (CDU) from 2000 to 2018.", "from 2000 to 2018"),  # noqa: E501
        ("Where was Urartu centred?", "Urartu was an Iron Age kingdom centered on the Armenian highlands between Lake Van and Lake Urmia.", "Armenian highlands"),  # noqa: E501
        ("when did the angolan civil war end", "The Angolan Civil War was a civil war in Angola, beginning in 1975 and continuing, with interludes, until 2002.", "until 2002"),  # noqa: E501
        # what an acronym stands for; another word after "or"
        ("What does CVD stand for?", "Color blindness or color vision deficiency (CVD) is the decreased ability to see color.", "color vision deficiency"),  # noqa: E501
        ("What's another word for a triangle?", "A triangle or trigon is a polygon consisting of three sides.", "trigon"),  # noqa: E501
        ("binoculars other name", "Binoculars or field glasses are two refracting telescopes mounted side-by-side.", "field glasses"),  # noqa: E501
    ],
)
def test_round_four_rules(question: str, sentence: str, expected: str) -> None:
    """The general shapes of quality.md #64, each from a miss on the development sets."""
    assert _short_in(question, sentence, "") == expected


TWEET = (
    "After being briefed, President Trump tweeted “All is well!” and said he would brief the nation Wednesday morning."
)
OFFICIALS = (
    'U.S. officials had claimed they had "solid intelligence," that Soleimani was planning attacks on U.S. facilities.'
)


def test_what_someone_said_is_the_quotation() -> None:
    """"What did Trump tweet?": the quoted words, without the sentence's own comma; a question asking
    something after the verb ("say he would do", "say Soleimani was planning") keeps its other spans."""
    assert _short("What did Trump tweet after the attack?", TWEET) == "All is well!"
    assert _short("what did U.S. officials say on Friday", OFFICIALS) == "solid intelligence"
    assert _short("what did trump say he would do wednesday morning", TWEET) != "All is well!"
    assert _short("What did U.S. officials say Soleimani was planning to attack?", OFFICIALS) != "solid intelligence"
    assert _short("What did Trump say about “All is well!”?", TWEET) != "All is well!"  # the question's own words


def test_no_asked_shape_in_the_sentence_leaves_the_typed_span() -> None:
    assert _short("What was Charlie Parker's nickname?", "Charlie Parker was an American jazz saxophonist.") == (
        "American jazz saxophonist"
    )
    roosevelt = "Roosevelt was president from 1933 to 1945."
    assert _short("what number president was franklin roosevelt", roosevelt) != "1933"


# ---- on the real engine ---------------------------------------------------------------------------

REVOLUTION = (
    "French Revolution\n\nThe French Revolution was a period of political change in France that began with the "
    "Estates General of 1789 and ended with the Coup of 18 Brumaire on 9 November 1799.\n"
)
PARKER = (
    'Charlie Parker\n\nCharles Parker Jr., nicknamed "Bird" or "Yardbird", was an American jazz saxophonist, '
    "bandleader, and composer.\n"
)
NILE = (
    "Nile\n\nThe Nile is a major north-flowing river in northeastern Africa. At 7,088 kilometers (4,404 mi) long, "
    "it is the longest river in the world.\n"
)


@pytest.fixture(scope="module")
def span_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from .small_corpus import engine_over

    documents = {"French_Revolution.txt": REVOLUTION, "Charlie_Parker.txt": PARKER, "Nile.txt": NILE}
    yield engine_over(tmp_path_factory.mktemp("spans"), embedder, documents)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did the French Revolution end?", "9 November 1799"),
        ("What was Charlie Parker's nickname?", "Bird"),
        ("How long is the Nile in km?", "7,088 kilometers"),
    ],
)
def test_the_engine_marks_the_span_that_answers(span_engine, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    answer = span_engine.ask(question)
    assert answer.short_answer is not None, answer.signals
    assert answer.short_answer.text == expected


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("who is saeed jalili?", "Representative of the Supreme Leader"),  # the widened role, not "Leader"
        ("Who is Iran's Supreme Leader?", "Ali Khamenei"),  # the name next to the title, not the newspaper
    ],
)
def test_the_seed_engine_marks_the_span_that_answers(seed_engine, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    answer = seed_engine.ask(question)
    assert answer.short_answer is not None, answer.signals
    assert expected in answer.short_answer.text


WAYNE = (
    "John Wayne\n\nMarion Robert Morrison, known professionally as John Wayne, was an American actor. "
    'Nicknamed "Duke", he became a popular icon through his starring roles in Western films.\n'
)
SESAME = (
    "Sesame Street\n\nSesame Street is an American educational children's television series. "
    "It is produced by Sesame Workshop and was created by Joan Ganz Cooney and Lloyd Morrisett.\n"
)
VOLLEYBALL = (
    "Volleyball\n\nVolleyball is a team sport in which two teams of six players are separated by a net. "
    "It has been part of the official program of the Summer Olympic Games since Tokyo 1964.\n"
)


@pytest.fixture(scope="module")
def shapes_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from .small_corpus import engine_over

    documents = {"John_Wayne.txt": WAYNE, "Sesame_Street.txt": SESAME, "Volleyball.txt": VOLLEYBALL}
    yield engine_over(tmp_path_factory.mktemp("shapes"), embedder, documents)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What was John Wayne's nickname?", "Duke"),  # "Nicknamed" opening the sentence
        ("Who created Sesame Street?", "Joan Ganz Cooney and Lloyd Morrisett"),  # the agent, not the producer
        ("How many players are on a volleyball team?", "six players"),  # the count next to the noun asked
    ],
)
def test_the_engine_marks_the_general_shapes(shapes_engine, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    answer = shapes_engine.ask(question)
    assert answer.short_answer is not None, answer.signals
    assert answer.short_answer.text == expected
