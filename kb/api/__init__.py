"""HTTP surfaces served by `kb serve` next to the Gradio UI (FastAPI/Starlette, never Gradio)."""
