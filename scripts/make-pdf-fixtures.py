#!/usr/bin/env python3
"""Writes the PDF fixtures of seam-retrieval's extraction tests (crates/seam-retrieval/tests/data/).

Made by a real PDF writer, fpdf2, so the tests read what tools produce:
  handbook.pdf      two pages, core Helvetica (WinAnsiEncoding), headings, "Zürich", Info Title
  handbook-ttf.pdf  the same with an embedded DejaVu Sans subset (Type0, Identity-H, ToUnicode)
  encrypted.pdf     one page, RC4-encrypted with a user password

Run: python3 -m venv /tmp/pdfvenv && /tmp/pdfvenv/bin/pip install fpdf2==2.8.9 &&
     /tmp/pdfvenv/bin/python scripts/make-pdf-fixtures.py
"""
import os
import sys

from fpdf import FPDF

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "seam-retrieval", "tests", "data")
TTF = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def handbook(path, font):
    pdf = FPDF()
    pdf.set_title("Travel Handbook")
    pdf.set_author("Seam tests")
    pdf.set_creation_date(__import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").timezone.utc))
    if font == "ttf":
        pdf.add_font("DejaVu", "", TTF)
        face = "DejaVu"
    else:
        face = "Helvetica"
    pdf.add_page()
    pdf.set_font(face, size=18)
    pdf.cell(text="Travel Handbook", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(face, size=11)
    pdf.multi_cell(0, 6, "Business trips to Zürich are booked through the travel desk. "
                         "Meal allowances are capped at 45 euros per day.")
    pdf.ln(4)
    pdf.set_font(face, size=14)
    pdf.cell(text="Expenses", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(face, size=11)
    pdf.multi_cell(0, 6, "Claims are reimbursed within 14 days after approval.")
    pdf.add_page()
    pdf.set_font(face, size=14)
    pdf.cell(text="Second page", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(face, size=11)
    pdf.multi_cell(0, 6, "Mileage is paid at 0.30 euros per kilometre.")
    pdf.output(path)


def encrypted(path):
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "A secret page.")
    pdf.output(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    handbook(os.path.join(OUT, "handbook.pdf"), "core")
    handbook(os.path.join(OUT, "handbook-ttf.pdf"), "ttf")
    encrypted(os.path.join(OUT, "encrypted.pdf"))
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)), file=sys.stderr)


if __name__ == "__main__":
    main()
