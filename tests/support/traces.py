"""One trace's finished spans, looked up by name and by parent, for the tracing tests."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.sdk.trace import ReadableSpan


class Trace:
    """The spans of one trace id among everything an exporter finished."""

    def __init__(self, spans: Iterable[ReadableSpan], trace_id: int | None) -> None:
        self.spans = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
        self._by_id = {s.context.span_id: s for s in self.spans if s.context is not None}

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        """The single span called `name` (fails listing the names there are)."""
        found = self.named(name)
        assert len(found) == 1, f"{name}: {len(found)} spans; have {sorted(self.names())}"
        return found[0]

    def names(self) -> set[str]:
        return {s.name for s in self.spans}

    def parent_of(self, span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, f"{span.name} has no parent"
        parent = self._by_id.get(span.parent.span_id)
        assert parent is not None, f"parent of {span.name} is not in the trace"
        return parent

    def ancestors(self, span: ReadableSpan) -> list[str]:
        """Names from the span's parent up to the root of what this trace holds."""
        names = []
        while span.parent is not None and span.parent.span_id in self._by_id:
            span = self._by_id[span.parent.span_id]
            names.append(span.name)
        return names
