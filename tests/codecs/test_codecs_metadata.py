"""Document metadata: validation, PDF and XMP dates, the XMP packet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest
from pydantic import ValidationError

from scanlet.codecs.metadata import (
    Properties,
    info_entries,
    parse_pdf_date,
    pdf_date,
    xmp_date,
    xmp_packet,
)
from scanlet.codecs.options import DocumentMetadata, ExportOptions

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"


@pytest.mark.parametrize("offset", [0, 90, -330])
def test_dates_round_trip(offset: int) -> None:
    zone = timezone(timedelta(minutes=offset))
    moment = datetime(2024, 2, 29, 23, 59, 58, tzinfo=zone)
    text = pdf_date(moment)
    assert text.startswith("D:20240229235958") and text.endswith("'")
    assert parse_pdf_date(text) == moment
    assert datetime.fromisoformat(xmp_date(moment)) == moment


@pytest.mark.parametrize(("text", "expected"), [
    ("D:2024", datetime(2024, 1, 1, tzinfo=UTC)),
    ("D:20240301120000Z", datetime(2024, 3, 1, 12, tzinfo=UTC)),
    ("20240301120000-05'00'", datetime(2024, 3, 1, 17, tzinfo=UTC)),
    ("D:20241301", None),
    ("garbage", None),
    ("", None),
])
def test_parse_pdf_date(text: str, expected: datetime | None) -> None:
    assert parse_pdf_date(text) == expected


def test_control_characters_refused() -> None:
    with pytest.raises(ValidationError):
        DocumentMetadata(title="bell\x07")
    with pytest.raises(ValidationError):
        DocumentMetadata(keywords=["ok", "nul\x00"])
    with pytest.raises(ValidationError):
        ExportOptions(quality=101)
    cleaned = DocumentMetadata(title="two\nlines\ttab", keywords=[" a ", "", "b"])
    assert cleaned.keywords == ["a", "b"] and not cleaned.is_empty()
    assert DocumentMetadata().is_empty()


def test_xmp_packet_is_well_formed_and_escaped() -> None:
    meta = DocumentMetadata(title='<b>&"x"', author="A & B", subject="s]]>",
                            keywords=["k<1>", "k2"])
    props = Properties.of(meta, now=datetime(2025, 1, 1, tzinfo=UTC))
    packet = xmp_packet(props, pdfa_part=2)
    assert packet.startswith(b"<?xpacket begin=") and packet.endswith(b'<?xpacket end="w"?>')
    root = ElementTree.fromstring(packet.decode("utf-8").split("?>", 1)[1].rsplit("<?", 1)[0])
    description = root.find(f"{RDF}RDF/{RDF}Description")
    assert description is not None
    assert description.find(f"{DC}title/{RDF}Alt/{RDF}li").text == '<b>&"x"'  # type: ignore[union-attr]
    assert [li.text for li in description.iter(f"{RDF}li")][-2:] == ["k<1>", "k2"]
    assert info_entries(props)["Keywords"] == "k<1>, k2"


def test_overriding_keeps_what_is_not_set() -> None:
    base = Properties.of(DocumentMetadata(title="T", author="A"), creator="scanner app")
    over = base.overriding(DocumentMetadata(author="B",
                                            creation_date=datetime(2001, 1, 1, tzinfo=UTC)))
    assert (over.title, over.author, over.creator) == ("T", "B", "scanner app")
    assert over.created == datetime(2001, 1, 1, tzinfo=UTC)
    assert base.overriding(None) is base
