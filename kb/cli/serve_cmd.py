"""`kb serve [--host H] [--port P]` — start the web app (the same one `python app.py` starts)."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from kb.cli.common import settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="start the web app (问答 / 提纲起草 / 知识库)")
    p.add_argument("--host", help="address to bind (default: server.host; 127.0.0.1 when there are no users)")
    p.add_argument("--port", type=int, help="port (default: server.port, 7860)")
    p.set_defaults(func=run)


def load_app_module():
    """`app.py` lives at the repository root, outside the `kb` package: load it from there, or
    from the import path when the project is installed elsewhere."""
    candidate = Path(__file__).resolve().parents[2] / "app.py"
    if candidate.is_file():
        if "kb_webapp" in sys.modules:
            return sys.modules["kb_webapp"]
        spec = importlib.util.spec_from_file_location("kb_webapp", candidate)
        module = importlib.util.module_from_spec(spec)
        sys.modules["kb_webapp"] = module
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module("app")
    except ImportError as exc:
        raise ImportError("the web app needs app.py and gradio: run from the repository (pip install -e .)") from exc


def run(args) -> int:
    settings = settings_from_args(args)
    if args.port is not None and not 0 < args.port < 65536:
        print(f"error: invalid port {args.port}", file=sys.stderr)
        return 2
    load_app_module().serve(settings, host=args.host, port=args.port)
    return 0
