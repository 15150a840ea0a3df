"""Write the API's OpenAPI document to a file without a server (the Studio's types come from it).

``python -m api.openapi_export OUT.json`` builds the app in dev mode (nothing connects:
no database, no Temporal) and writes ``app.openapi()``, keys in a stable order, so
``scripts/studio-api-types.sh`` can generate ``studio/src/api/schema.d.ts`` from exactly
what the API serves, and CI can fail when the two drift apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from api.app import create_app
from api.settings import Settings


def openapi_document() -> dict[str, Any]:
    """The document ``GET /openapi.json`` serves, built offline."""
    settings = Settings(_env_file=None, dev_mode=True, database_url="sqlite+aiosqlite://")
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api.openapi_export",
        description="Write the API's OpenAPI document (built offline, keys sorted) to a file.",
    )
    parser.add_argument("out", type=Path, metavar="OUT.json", help="the file to write")
    return parser


def main(argv: list[str]) -> int:
    """Write the document to the one path in ``argv``; ``--help`` or a bad call never writes."""
    out: Path = _parser().parse_args(argv).out  # exits 0 on --help, 2 on a bad call
    text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
