"""Citations: how a quoted sentence is checked against the passage it cites — shared by answering and drafting.

- ``offsets``: where a quote stands in the stored document text (start/end, page span), checked.
- ``verify``: sentence and claim splitting, and ``CitationVerifier`` (a quote is verbatim or it is not cited).
"""
