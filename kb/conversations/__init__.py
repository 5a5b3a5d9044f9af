"""Conversations: what each user asked, the answers given, and the feedback on them.

- ``history``: conversations and their turns, kept per user (``ConversationStore``, ``Conversation``, ``Turn``).
- ``feedback``: 👍/👎 with a reason, and how feedback becomes evaluation items (``export_items``).
"""
