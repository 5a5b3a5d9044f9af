"""`make bench`: retrieval quality, speed and memory of the knowledge base against fixed targets.

Entry point: ``python -m bench.run`` (see bench/README.md). Nothing here runs at import time.
"""
