"""Access: who may see and do what in one knowledge base, and the record of what they did.

- ``users``: accounts, roles and scrypt password hashes (``UserStore``), the password policy.
- ``grants``: which inspection groups may read a confidential collection, and until when (``GrantStore``).
- ``scope``: one user's view of the store with denied collections removed (``ScopedStore``, ``denied_collections``).
- ``apikeys``: API keys, each acting as one user (``ApiKeyStore``).
- ``login_guard``: login throttling per user name and client address (``LoginGuard``).
- ``limits``: how much one request may carry — a question, its history, a draft request (``check_question``…).
- ``audit``: the tamper-evident audit log (``AuditLog``).
"""
