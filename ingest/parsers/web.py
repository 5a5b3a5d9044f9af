"""Scraped web pages: the junk cleaning of ingest/cleaning.py (share prompts, footers, breadcrumbs) is
all they need beyond the shared assembly; kept as its own kind so 公文 or law rules never touch them."""
