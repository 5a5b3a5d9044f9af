"""`make bench`: retrieval quality, speed and memory of the knowledge base against fixed targets.

Entry point: ``python -m bench.run`` (see bench/README.md), the runner: options, which sections run,
the report. One benchmark per module in ``bench/sections/``; what they share is ``bench/context.py``
(the run's knowledge bases, built once) and ``bench/common.py`` (timers, percentiles, data loading,
scoring); targets, verdicts and the table are ``bench/report.py``. Beside them: ``peer.py`` (the
llama-index baseline), ``load.py`` (a served instance under load), ``realdocs.py`` (real documents) and
``make_realdocs.py`` with ``realdocs_kinds/`` (a held-out set of them). Nothing here runs at import time.
"""
