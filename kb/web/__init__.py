"""The web app's server side (``app.py`` is a thin Gradio adapter over it; nothing here imports gradio).

- ``service``: who may do what in the browser, the audit trail, answers rendered for the page (``WebAppService``).
- ``page_checks``: the pages of an ingested file a person must check against the original (``page_check_lines``).
- ``suggestions``: suggested questions the sources answer — the welcome set and next questions (``SuggestionService``).
- ``shell``: the page around the app — Chinese whatever the browser, the login page, lockout wording, clean
  copy from the chat (``ShellMiddleware``, ``GRADIO_ZH``).
"""
