"""Generation: the optional language model and the prompt templates it is given.

- ``llm``: one interface over an OpenAI-compatible server or a script (``build_llm``, ``LLMClient``).
- ``prompts``: the one loader for ``prompts/*.yaml`` with declared variables (``PromptLibrary``).
"""
