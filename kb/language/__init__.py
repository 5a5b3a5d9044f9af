"""Language facts about Chinese text that ingest and answering share, so neither reaches into the other.

- ``ner``: named entities (persons, places, organisations, times, works) behind one component (``build_entity_tagger``).
- ``person_names``: person-name mentions and the affiliations around them (``person_mentions``).
"""
