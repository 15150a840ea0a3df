"""Container health probe: `python -m treeflow.healthcheck [URL]` exits 0 when URL answers 2xx.

The image's HEALTHCHECK runs it (the slim image has no curl). The URL comes from the
argument, else `TREEFLOW_HEALTHCHECK_URL` (the API's `/healthz` by default; workers
point it at their metrics port's `/healthz`). Standard library only, so it starts fast.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_SECONDS = 4.0  # below the image's HEALTHCHECK --timeout of 5 s


def probe(url: str, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Whether ``url`` answers 2xx within ``timeout``, and a one-line reason."""
    if not url.startswith(("http://", "https://")):
        return False, f"not an http(s) URL: {url!r}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"{url} unreachable: {exc}"
    return 200 <= status < 300, f"{url} answered {status}"


def main(argv: list[str] | None = None) -> int:
    """Probe once; print the reason on failure (Docker keeps it in the health log)."""
    args = sys.argv[1:] if argv is None else argv
    url = args[0] if args else os.environ.get("TREEFLOW_HEALTHCHECK_URL", DEFAULT_URL)
    healthy, reason = probe(url)
    if not healthy:
        print(reason, file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
