"""Real PDF and Word files for the format tests, made with reportlab and python-docx.

report.pdf   3 pages: a title, two columns drawn line by line across the page (left line,
             right line, ...), a word hyphenated at a line end ("exam-" / "ination"), the
             ligatures ﬁ and ﬂ (Vera, the TrueType font reportlab ships, maps them to
             U+FB01/U+FB02), a table with a header row; then two single-column pages.
scan.pdf     one page holding only an image (no text layer).
locked.pdf   encrypted with a user password.
broken.pdf   a PDF header followed by garbage.
guide.docx   headings, paragraphs and a table with a header row.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

TITLE = "Annual Report of the Korvik Lighthouse Society"
LEFT = [
    "The lighthouse at Korvik was built in 1871 by the",
    "harbour board. Its lamp was ﬁrst lit on a cold",
    "autumn evening, and the keeper recorded the event",
    "in a log book that survives today. The ﬁrst keeper",
    "was Anton Berg, who served for thirty-one years",
    "and wrote a detailed account of the exam-",
    "ination of the lens by the inspectors.",
]
RIGHT = [
    "The society was founded in 1952 to preserve the",
    "buildings. It has 340 members and meets every",
    "spring in the old boathouse. Membership costs",
    "twelve euros a year, and members receive a",
    "newsletter with news about the restoration of",
    "the tower and the ﬂoor of the lamp room.",
]
TABLE = [("Year", "Visitors", "Revenue"), ("2021", "4,210", "18,300 euros"), ("2022", "5,870", "24,150 euros")]
PAGE2 = [
    "The tower is 32 metres tall and its light can be seen from 18 nautical miles.",
    "The lens was made in Paris by the workshop of Henry-Lepaute.",
]
PAGE3 = [
    "The keeper's cottage was restored in 2019 with a grant from the Nordic Heritage Fund.",
    "Guided tours run on Saturdays from June to August.",
]


def _font() -> str:
    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("Vera", os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf")))
    return "Vera"


def report_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    _, height = A4
    c.setFont(font, 16)
    c.drawString(72, height - 72, TITLE)
    c.setFont(font, 10)
    y = height - 110
    for i in range(max(len(LEFT), len(RIGHT))):
        if i < len(LEFT):
            c.drawString(72, y, LEFT[i])
        if i < len(RIGHT):
            c.drawString(310, y, RIGHT[i])
        y -= 14
    y -= 24
    for row in TABLE:
        for x, cell in zip((72, 200, 330), row, strict=True):
            c.drawString(x, y, cell)
        y -= 14
    for lines in (PAGE2, PAGE3):
        c.showPage()
        c.setFont(font, 10)
        y = height - 72
        for line in lines:
            c.drawString(72, y, line)
            y -= 24
    c.showPage()
    c.save()
    return out.getvalue()


def flowing_pdf() -> bytes:
    """Text flowing through two columns (reportlab's platypus frames, as word processors lay out):
    the columns' baselines are not level, a paragraph runs on from the left column into the right,
    and a small table sits at the foot of the right column."""
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table

    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    body.alignment = TA_JUSTIFY
    out = io.BytesIO()
    doc = BaseDocTemplate(out, pagesize=A4)
    half = doc.width / 2 - 6
    frames = [
        Frame(doc.leftMargin, doc.bottomMargin, half, doc.height, id="left"),
        Frame(doc.leftMargin + doc.width / 2 + 6, doc.bottomMargin, half, doc.height, id="right"),
    ]
    doc.addPageTemplates([PageTemplate(id="two", frames=frames)])
    story = [Paragraph("Glaciers of Norway", styles["Heading1"])]
    story += [Paragraph(f"Paragraph {i}: {FLOWING}", body) for i in range(12)]
    story.append(Table([["Glacier", "Area (km2)"], ["Jostedalsbreen", "487"], ["Svartisen", "369"]]))
    doc.build(story)
    return out.getvalue()


FLOWING = (
    "The Jostedal glacier is the largest glacier in continental Europe, covering 487 square kilometres. It has "
    "retreated by 2.5 kilometres since 1750, and scientists at the University of Bergen measure its mass balance "
    "every year with stakes drilled into the ice."
)


def runon_pdf() -> bytes:
    """Two pages; a sentence runs from the foot of page 1 ("... the exam-") to the top of page 2."""
    return _lines_pdf([RUNON[:2], RUNON[2:]])


def _lines_pdf(pages: list[list[str]]) -> bytes:
    """Pages of lines in one font, size 10, 14 points apart."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    _, height = A4
    for lines in pages:
        c.setFont(font, 10)
        y = height - 72
        for line in lines:
            c.drawString(72, y, line)
            y -= 14
        c.showPage()
    c.save()
    return out.getvalue()


RUNON = [
    "The inspectors arrived at Korvik in the spring of 1869 and began the long",
    "and careful exam-",
    "ination of the lens, which was completed before the autumn storms.",
    "The keeper was praised for his care of the lamp.",
]


def plain_heading_pdf() -> bytes:
    """One page whose section heading has the text's own font, size and spacing (as bold headings
    often do once the bold is gone)."""
    return _lines_pdf([PLAIN_HEADING])


PLAIN_HEADING = [
    "Finances",
    "The new boathouse cost 1.2 million euros and opened in May 2025, two months",
    "later than planned. The treasurer of the club is Maria Lindqvist.",
]


def scan_pdf() -> bytes:
    """A page that is only a picture (of grey bars standing for text): no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("L", (400, 200), 255)
    draw = ImageDraw.Draw(image)
    for row in range(8):
        draw.rectangle((20, 20 + row * 20, 380, 30 + row * 20), fill=90)
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.drawImage(ImageReader(image), 72, 500, width=400, height=200)
    c.showPage()
    c.save()
    return out.getvalue()


def locked_pdf(algorithm: str = "AES-256", user_password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(report_pdf())))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def broken_pdf() -> bytes:
    return b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def guide_docx() -> bytes:
    from docx import Document

    doc = Document()
    doc.add_heading("Korvik Harbour Guide", level=1)
    doc.add_paragraph("The harbour master is Ingrid Solberg. Her office is open from 8 to 16 on weekdays.")
    doc.add_heading("Berths", level=2)
    doc.add_paragraph("Visiting boats moor at the outer berths and pay at the fuel pier.")
    table = doc.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [("Berth", "Length", "Depth"), ("A", "120 metres", "9 metres"), ("B", "80 metres", "6 metres")]
    ):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    doc.add_heading("Fuel", level=2)
    doc.add_paragraph("Diesel is sold at the fuel pier until 20:00 in summer.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def write_all(folder: Path) -> Path:
    """All the files above in `folder`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.pdf").write_bytes(report_pdf())
    (folder / "scan.pdf").write_bytes(scan_pdf())
    (folder / "locked.pdf").write_bytes(locked_pdf())
    (folder / "broken.pdf").write_bytes(broken_pdf())
    (folder / "guide.docx").write_bytes(guide_docx())
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    return folder
