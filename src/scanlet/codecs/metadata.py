"""Document metadata in the shapes files carry it: PDF Info entries, an XMP packet, TIFF tags.

One :class:`Properties` value feeds every shape, so a PDF's Info dictionary and its XMP packet
always say the same thing — which PDF/A requires (ISO 19005-2, 6.6.2.3: every Info entry
with an XMP equivalent must be equal to it) and which readers that look at only one of them
need. The mapping is the one of the XMP specification (and of pikepdf's ``load_from_docinfo``):

==============  =====================================
Info            XMP
==============  =====================================
/Title          dc:title (x-default)
/Author         dc:creator (a sequence of one)
/Subject        dc:description (x-default)
/Keywords       pdf:Keywords (and each in dc:subject)
/Creator        xmp:CreatorTool
/Producer       pdf:Producer
/CreationDate   xmp:CreateDate
/ModDate        xmp:ModifyDate
==============  =====================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from xml.sax.saxutils import escape

from scanlet import __version__
from scanlet.codecs.options import DocumentMetadata

logger = logging.getLogger(__name__)

PRODUCER = f"Scanlet {__version__}"
KEYWORD_SEPARATOR = ", "

_XMP_PADDING = (" " * 99 + "\n") * 20  # room for in-place edits, as the XMP spec suggests


@dataclass(frozen=True)
class Properties:
    """Everything any metadata shape needs, resolved (dates have a time zone)."""

    title: str | None
    author: str | None
    subject: str | None
    keywords: tuple[str, ...]
    creator: str | None
    producer: str
    created: datetime
    modified: datetime

    @classmethod
    def of(cls, metadata: DocumentMetadata | None, *, now: datetime | None = None,
           producer: str = PRODUCER, creator: str | None = None) -> Properties:
        """Resolve ``metadata``: the creation date defaults to ``now`` (default: the time)."""
        metadata = metadata or DocumentMetadata()
        moment = (now or datetime.now(UTC)).astimezone().replace(microsecond=0)
        created = metadata.creation_date
        created = created.astimezone().replace(microsecond=0) if created else moment
        return cls(metadata.title, metadata.author, metadata.subject,
                   tuple(metadata.keywords), creator, producer, created, moment)

    def overriding(self, metadata: DocumentMetadata | None) -> Properties:
        """These properties with every field ``metadata`` sets replaced."""
        if metadata is None:
            return self
        changes: dict[str, object] = {
            name: getattr(metadata, name) for name in ("title", "author", "subject")
            if getattr(metadata, name) is not None
        }
        if metadata.keywords:
            changes["keywords"] = tuple(metadata.keywords)
        if metadata.creation_date is not None:
            changes["created"] = metadata.creation_date.astimezone().replace(microsecond=0)
        return replace(self, **changes)  # type: ignore[arg-type]


def _offset(moment: datetime) -> tuple[str, int, int]:
    delta = moment.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return sign, abs(minutes) // 60, abs(minutes) % 60


def pdf_date(moment: datetime) -> str:
    """``D:YYYYMMDDHHmmSS+HH'mm'`` (PDF 1.7, 7.9.4)."""
    sign, hours, minutes = _offset(moment)
    return f"D:{moment:%Y%m%d%H%M%S}{sign}{hours:02d}'{minutes:02d}'"


def xmp_date(moment: datetime) -> str:
    """ISO 8601 with the offset, as XMP writes dates: ``2026-11-24T15:04:05+01:00``."""
    sign, hours, minutes = _offset(moment)
    return f"{moment:%Y-%m-%dT%H:%M:%S}{sign}{hours:02d}:{minutes:02d}"


def parse_pdf_date(text: str) -> datetime | None:
    """A PDF date string (``D:YYYYMMDDHHmmSS+HH'mm'``, any prefix of it) as an aware datetime.

    A missing or ``Z`` time zone is UTC; None when the text is not a date.
    """
    raw = text.removeprefix("D:").replace("'", "")
    digits = raw[:14]
    if len(digits) < 4 or not digits.isdigit():
        return None
    try:
        moment = datetime.strptime(digits + "0101000000"[len(digits) - 4 :], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    zone = raw[len(digits) :]
    if zone[:1] in ("+", "-") and zone[1:3].isdigit():
        minutes = int(zone[3:5]) if zone[3:5].isdigit() else 0
        delta = timedelta(hours=int(zone[1:3]), minutes=minutes)
        return moment.replace(tzinfo=timezone(delta if zone[0] == "+" else -delta))
    return moment.replace(tzinfo=UTC)


def info_entries(props: Properties) -> dict[str, str]:
    """The PDF document information dictionary (keys without the slash)."""
    entries: dict[str, str] = {}
    for key, value in (("Title", props.title), ("Author", props.author),
                       ("Subject", props.subject), ("Creator", props.creator)):
        if value:
            entries[key] = value
    if props.keywords:
        entries["Keywords"] = KEYWORD_SEPARATOR.join(props.keywords)
    entries["Producer"] = props.producer
    entries["CreationDate"] = pdf_date(props.created)
    entries["ModDate"] = pdf_date(props.modified)
    return entries


def _alt(value: str) -> str:
    return (f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(value)}</rdf:li></rdf:Alt>')


def xmp_packet(props: Properties, *, media_type: str = "application/pdf",
               pdfa_part: int | None = None) -> bytes:
    """An XMP packet (UTF-8) with the properties, and the PDF/A identification if asked.

    ``pdf:`` properties are written for PDFs only; other files get ``xmp:CreatorTool`` set to
    the producer instead.
    """
    fields = [f"<dc:format>{escape(media_type)}</dc:format>"]
    if props.title:
        fields.append(f"<dc:title>{_alt(props.title)}</dc:title>")
    if props.author:
        fields.append(f"<dc:creator><rdf:Seq><rdf:li>{escape(props.author)}</rdf:li>"
                      "</rdf:Seq></dc:creator>")
    if props.subject:
        fields.append(f"<dc:description>{_alt(props.subject)}</dc:description>")
    if props.keywords:
        words = "".join(f"<rdf:li>{escape(word)}</rdf:li>" for word in props.keywords)
        fields.append(f"<dc:subject><rdf:Bag>{words}</rdf:Bag></dc:subject>")
    is_pdf = media_type == "application/pdf"
    if is_pdf and props.keywords:
        fields.append(f"<pdf:Keywords>{escape(KEYWORD_SEPARATOR.join(props.keywords))}"
                      "</pdf:Keywords>")
    if is_pdf:
        fields.append(f"<pdf:Producer>{escape(props.producer)}</pdf:Producer>")
    tool = props.creator if is_pdf else (props.creator or props.producer)
    if tool:
        fields.append(f"<xmp:CreatorTool>{escape(tool)}</xmp:CreatorTool>")
    fields += [
        f"<xmp:CreateDate>{xmp_date(props.created)}</xmp:CreateDate>",
        f"<xmp:ModifyDate>{xmp_date(props.modified)}</xmp:ModifyDate>",
        f"<xmp:MetadataDate>{xmp_date(props.modified)}</xmp:MetadataDate>",
    ]
    if pdfa_part is not None:
        fields += [f"<pdfaid:part>{pdfa_part}</pdfaid:part>",
                   "<pdfaid:conformance>B</pdfaid:conformance>"]
    body = "\n   ".join(fields)
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">\n'
        f"   {body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        f"{_XMP_PADDING}"
        '<?xpacket end="w"?>'
    )
    return text.encode("utf-8")


# TIFF 6.0 tags: DocumentName, ImageDescription, Software, DateTime, Artist; XMP (Adobe).
TIFF_DOCUMENT_NAME = 269
TIFF_IMAGE_DESCRIPTION = 270
TIFF_SOFTWARE = 305
TIFF_DATE_TIME = 306
TIFF_ARTIST = 315
TIFF_XMP = 700


def tiff_tags(props: Properties) -> dict[int, str | bytes]:
    """TIFF tags for the first frame: the baseline text tags and the full XMP packet.

    Keywords have no baseline TIFF tag; they are in the XMP packet (dc:subject).
    """
    tags: dict[int, str | bytes] = {
        TIFF_SOFTWARE: props.producer,
        TIFF_DATE_TIME: f"{props.created:%Y:%m:%d %H:%M:%S}",
    }
    if props.title:
        tags[TIFF_DOCUMENT_NAME] = props.title
    if props.subject:
        tags[TIFF_IMAGE_DESCRIPTION] = props.subject
    if props.author:
        tags[TIFF_ARTIST] = props.author
    tags[TIFF_XMP] = xmp_packet(props, media_type="image/tiff")
    return tags
