"""BibTeX output, checked by parsing it back with bibtexparser (v2)."""

from __future__ import annotations

import bibtexparser
import pytest
from bibtexparser.middlewares import SeparateCoAuthors, SplitNameParts
from bibtexparser.model import Entry
from pylatexenc.latex2text import LatexNodes2Text

from readinglist.bibtex import BibRecord, bibtex_name, protect_title, to_bibtex

ATTENTION = BibRecord(
    "Attention Is All You Need", ("Ashish Vaswani", "Noam Shazeer"), 2017, "1706.03762"
)


def parse(text: str) -> list[Entry]:
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == []
    return library.entries


def decoded(value: str) -> str:
    """A field as LaTeX prints it: escapes resolved, protecting braces gone."""
    return LatexNodes2Text().latex_to_text(value)


def authors(entry: Entry) -> list[tuple[str, str, str, str]]:
    """(first, von, last, jr) of each author, split the way BibTeX splits them."""
    library = bibtexparser.Library([entry])
    library = SplitNameParts().transform(SeparateCoAuthors().transform(library))
    return [
        (" ".join(n.first), " ".join(n.von), " ".join(n.last), " ".join(n.jr))
        for n in library.entries[0]["author"]
    ]


def test_an_arxiv_paper() -> None:
    (entry,) = parse(to_bibtex([ATTENTION]))
    assert (entry.entry_type, entry.key) == ("misc", "vaswani2017attention")
    assert entry["title"] == "{Attention} {Is} {All} {You} {Need}"
    assert decoded(entry["title"]) == ATTENTION.title
    assert entry["author"] == "Vaswani, Ashish and Shazeer, Noam"
    assert authors(entry) == [("Ashish", "", "Vaswani", ""), ("Noam", "", "Shazeer", "")]
    assert (entry["year"], entry["eprint"], entry["archivePrefix"]) == (
        "2017",
        "1706.03762",
        "arXiv",
    )
    assert entry["url"] == "https://arxiv.org/abs/1706.03762"
    assert "note" not in entry.fields_dict


def test_a_paper_without_an_arxiv_id() -> None:
    record = BibRecord(
        "Sailor: Open Language Models",
        ("Longxu Dou",),
        2024,
        note="Seen in 2 digests: Mar 13 (000_88), Mar 14 (2024-03-14)",
    )
    (entry,) = parse(to_bibtex([record]))
    assert entry.key == "dou2024sailor"
    assert "eprint" not in entry.fields_dict
    assert "archivePrefix" not in entry.fields_dict
    assert entry["url"] == "https://huggingface.co/papers?q=Sailor%3A%20Open%20Language%20Models"
    assert entry["note"] == r"Seen in 2 digests: Mar 13 (000\_88), Mar 14 (2024-03-14)"
    assert decoded(entry["note"]) == record.note
    assert decoded(entry["title"]) == record.title


def test_many_papers_get_unique_keys_and_every_field_round_trips() -> None:
    records = [
        ATTENTION,
        BibRecord("Attention Is Not All You Need", ("Ashish Vaswani",), 2017, "2103.03404"),
        BibRecord("Attention, again", ("A. Vaswani",), 2017, None),
        BibRecord(
            "Mamba: Linear-Time Sequence Modeling", ("Albert Gu", "Tri Dao"), 2023, "2312.00752"
        ),
        BibRecord("The Unknown", (), None, None),
        BibRecord("A survey of surveys", ("Plato",), 2024, "2401.00001"),
    ]
    entries = parse(to_bibtex(records))
    assert len(entries) == len(records)
    keys = [entry.key for entry in entries]
    assert len(set(keys)) == len(keys)
    assert keys == [
        "vaswani2017attentiona",
        "vaswani2017attentionb",
        "vaswani2017attentionc",
        "gu2023mamba",
        "anonunknown",
        "plato2024survey",
    ]
    for record, entry in zip(records, entries, strict=True):
        assert decoded(entry["title"]) == record.title
        eprint = entry.fields_dict.get("eprint")
        assert (eprint.value if eprint else None) == record.arxiv_id
        if record.authors:
            expected = [bibtex_name(name) for name in record.authors]
            assert entry["author"].split(" and ") == expected


def test_suffixes_do_not_depend_on_the_order_given() -> None:
    records = [
        BibRecord("Scaling laws", ("Jared Kaplan",), 2020, "2001.08361"),
        BibRecord("Scaling laws revisited", ("Jared Kaplan",), 2020, "2001.00001"),
        BibRecord("Scaling laws, a third", ("Jared Kaplan",), 2020, None),
    ]
    forward = {e["title"]: e.key for e in parse(to_bibtex(records))}
    backward = {e["title"]: e.key for e in parse(to_bibtex(records[::-1]))}
    assert forward == backward
    assert sorted(forward.values()) == [
        "kaplan2020scalinga",
        "kaplan2020scalingb",
        "kaplan2020scalingc",
    ]


def test_a_suffixed_key_never_takes_another_papers_key() -> None:
    records = [
        BibRecord("Foo", ("Ann Smith",), 2020),
        BibRecord("Foo", ("Ann Smith",), 2020, "2001.1"),
        BibRecord("Fooa", ("Ann Smith",), 2020),  # its own key is smith2020fooa
    ]
    keys = [entry.key for entry in parse(to_bibtex(records))]
    assert len(set(keys)) == 3
    assert keys[2] == "smith2020fooa"


def test_special_characters_are_escaped() -> None:
    title = r"100% {robust} C# & $x$ for a_b ~ \LaTeX"
    record = BibRecord(title, ("Ann O'Neil_Smith",), 2024, "2403.1", note="50% off_on #1 {x}")
    text = to_bibtex([record])
    (entry,) = parse(text)
    assert entry["title"] == (
        r"100\% \{robust\} {C\#} \& \$x\$ for a\_b \textasciitilde{} {{\textbackslash{}LaTeX}}"
    )
    assert decoded(entry["title"]) == title
    assert entry["note"] == r"50\% off\_on \#1 \{x\}"
    assert decoded(entry["note"]) == record.note
    assert entry["author"] == r"O'Neil\_Smith, Ann"
    assert protect_title("x^2") == r"x\textasciicircum{}2"


def test_unicode_is_kept_and_control_characters_neutralised() -> None:
    record = BibRecord(
        "Über \x1b[2Jdie Möglichkeit\u202e\nof 学习",
        ("Jürgen Müller", "Zoë Ø. Łukasz"),
        2024,
        "2403.2",
        note="bell\x07",
    )
    text = to_bibtex([record])
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    (entry,) = parse(text)
    assert entry.key == "muller2024uber"
    assert decoded(entry["title"]) == "Über ␛[2Jdie Möglichkeit\ufffd of 学习"
    assert entry["author"] == "Müller, Jürgen and Łukasz, Zoë Ø."
    assert entry["note"] == "bell␇"


@pytest.mark.parametrize(
    ("name", "bibtex", "parts"),
    [
        ("Ludwig van der Maaten", "van der Maaten, Ludwig", ("Ludwig", "van der", "Maaten", "")),
        ("Guido Van Rossum", "Van Rossum, Guido", ("Guido", "", "Van Rossum", "")),
        ("Maria de Souza Santos", "de Souza Santos, Maria", ("Maria", "de", "Souza Santos", "")),
        ("Plato", "Plato", ("", "", "Plato", "")),
        (
            "Martin Luther King Jr.",
            "King, Jr., Martin Luther",
            ("Martin Luther", "", "King", "Jr."),
        ),
        ("Smith, John", "Smith, John", ("John", "", "Smith", "")),
        ("{Google DeepMind}", "{Google DeepMind}", ("", "", "{Google DeepMind}", "")),
        (
            "Research and Development",
            "{Research and Development}",
            ("", "", "{Research and Development}", ""),
        ),
        ("Jean-Pierre Dupont", "Dupont, Jean-Pierre", ("Jean-Pierre", "", "Dupont", "")),
    ],
)
def test_author_names_in_bibtex_order(name: str, bibtex: str, parts: tuple[str, ...]) -> None:
    assert bibtex_name(name) == bibtex
    (entry,) = parse(to_bibtex([BibRecord("T", (name, "Other Person"), 2024)]))
    assert authors(entry) == [parts, ("Other", "", "Person", "")]


def test_nothing_to_export_is_empty() -> None:
    assert to_bibtex([]) == ""
