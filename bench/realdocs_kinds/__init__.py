"""The document kinds of the held-out real-document set that bench/make_realdocs.py writes, one module
each, and what they share: common (paths, fonts, python-docx writing helpers), pdftext (LibreOffice
conversion, pdftotext page texts, locating a sentence across a page break, picking a key clause),
notice_specs (the five 公文 notices' content, variants a-e), notice (the notice as .docx, .pdf —
LibreOffice's or reportlab's —, .ofd and .doc, its layout chosen so that sentences and table rows cross
page breaks, and its questions), ofd (GB/T 33190 OFD written from a PDF's text boxes), scan (the notice
as an image-only scanned PDF), law (a law from ../shared/corpus/laws as a long PDF and its page-break
questions) and report (an inspection report naming invented people). bench/make_realdocs.py picks a
variant and calls each kind in turn."""
