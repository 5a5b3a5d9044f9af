"""Storage: where a knowledge base lives at rest under KB_HOME, and how it stays whole.

- ``store``: the Chroma store, source of truth for documents and chunks (``ChromaStore``).
- ``store_recovery``: recovery of a collection whose vector segment cannot be loaded.
- ``errors``: storage failures as one clear line (``storage_problem``).
- ``locking``: the single-writer lock for ingests (``IngestLock``).
- ``backup``: ``kb backup`` / ``kb restore`` — a consistent copy of KB_HOME.
- ``permissions``: KB_HOME private to its owner (0700/0600) and the doctor's check of it.
- ``doc_ids``: how a file becomes its document id, and its content hash.
- ``uploads``: files uploaded through the web app, per-user quotas and removal (``UploadStore``).
"""
