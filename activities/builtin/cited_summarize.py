"""`cited_summarize`: answer from retrieved objects, citing each claim's reference ids.

With a model configured (`llm` tool config) the complex tier writes the answer as
sentences, each with the reference ids it rests on; ids that are not among the
sources are rejected and re-asked. Without one, an extractive summary picks the
sentences most relevant to the question and cites the object each came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from activities.builtin.retrieval_errors import backend_errors
from activities.builtin.retrieval_pool import ModelRetrievalTool
from activities.builtin.summarize import rank_sentences
from activities.builtin.textstats import sentences
from activities.errors import NonRetryableToolError
from activities.llm import Message, complete_structured, total_usage
from activities.sdk import ToolContext, tool

MAX_SOURCE_CHARS = 4000


class Source(BaseModel):
    """Text to summarise and the reference id to cite it by."""

    ref: str
    text: str
    title: str | None = None


class CitedSummarizeInput(BaseModel):
    question: str = Field(description="What the summary must answer.")
    sources: list[Source] = Field(default_factory=list, description="{ref, text, title}.")
    objects: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Query results ({ref, properties, passages}); their text becomes sources.",
    )
    collection: str | None = Field(default=None, description="Fetch `refs` from here.")
    refs: list[str] = Field(default_factory=list, description="Reference ids to fetch.")
    text_properties: list[str] | None = Field(
        default=None, description="Properties that hold the text (default: every text value)."
    )
    title_property: str | None = Field(default="title")
    max_sentences: int = Field(default=4, ge=1, le=20)
    mode: Literal["auto", "extractive"] = Field(
        default="auto", description="auto: the LLM when configured, else extractive."
    )

    @model_validator(mode="after")
    def _something(self) -> CitedSummarizeInput:
        if self.refs and not self.collection:
            raise ValueError("`refs` need a `collection` to fetch them from")
        return self


class Citation(BaseModel):
    number: int = Field(description="The [n] marker in the summary.")
    ref: str
    title: str | None = None


class CitedSentence(BaseModel):
    text: str
    refs: list[str]


class CitedSummarizeOutput(BaseModel):
    summary: str = Field(description="The answer with [n] citation markers.")
    sentences: list[CitedSentence]
    citations: list[Citation]
    method: Literal["llm", "extractive"]
    sources: int
    usage: dict[str, Any] | None = None


class _Answer(BaseModel):
    """What the model must answer."""

    sentences: list[CitedSentence] = Field(
        min_length=1, description="The answer, one sentence each, with the refs it rests on."
    )


def _text_of(properties: Mapping[str, Any], names: Sequence[str] | None) -> str:
    keys = names if names is not None else [k for k, v in properties.items() if isinstance(v, str)]
    parts = [str(properties[k]) for k in keys if isinstance(properties.get(k), str)]
    return " ".join(p if p.rstrip().endswith((".", "!", "?")) else p + "." for p in parts)


def object_sources(
    objects: Sequence[Mapping[str, Any]], text_properties: Sequence[str] | None, title: str | None
) -> list[Source]:
    """Sources from query objects: passages when there are, else the text properties."""
    found = []
    for obj in objects:
        ref = obj.get("ref") or obj.get("id")
        properties = obj.get("properties") or {}
        if not ref or not isinstance(properties, Mapping):
            continue
        passages = obj.get("passages") or []
        text = " ".join(str(p.get("text", "")) for p in passages if isinstance(p, Mapping))
        if not text:
            text = _text_of(properties, text_properties)
        heading = properties.get(title) if title else None
        found.append(
            Source(ref=str(ref), text=text, title=str(heading) if heading is not None else None)
        )
    return found


def extractive(question: str, sources: Sequence[Source], limit: int) -> list[CitedSentence]:
    """The most relevant sentences; a sentence found in several sources cites them all."""
    origins: dict[str, list[str]] = {}
    for source in sources:
        for sentence in sentences(source.text):
            refs = origins.setdefault(sentence, [])
            if source.ref not in refs:
                refs.append(source.ref)
    chosen = rank_sentences(list(origins), limit, question)
    return [CitedSentence(text=sentence, refs=origins[sentence]) for sentence in chosen]


def with_citations(
    parts: Sequence[CitedSentence], sources: Sequence[Source]
) -> tuple[str, list[Citation]]:
    """Number the cited refs in order of first use and write `text [n]` sentences."""
    titles = {s.ref: s.title for s in sources}
    numbers: dict[str, int] = {}
    written = []
    for part in parts:
        marks = []
        for ref in part.refs:
            numbers.setdefault(ref, len(numbers) + 1)
            marks.append(f"[{numbers[ref]}]")
        written.append(f"{part.text.strip()} {''.join(marks)}".strip())
    citations = [Citation(number=n, ref=ref, title=titles.get(ref)) for ref, n in numbers.items()]
    return " ".join(written), citations


def _cited(
    parts: list[CitedSentence],
    sources: Sequence[Source],
    *,
    method: Literal["llm", "extractive"],
    usage: dict[str, Any] | None = None,
) -> CitedSummarizeOutput:
    summary, citations = with_citations(parts, sources)
    return CitedSummarizeOutput(
        summary=summary,
        sentences=parts,
        citations=citations,
        method=method,
        sources=len(sources),
        usage=usage,
    )


@tool(name="cited_summarize", version="1.0.0", timeout=timedelta(seconds=120), tags=("retrieval",))
class CitedSummarize(ModelRetrievalTool):
    """Answer a question from retrieved objects with citations to their reference ids.
    Use it after query, to write the final answer grounded in what was found."""

    async def run(self, args: CitedSummarizeInput, ctx: ToolContext) -> CitedSummarizeOutput:
        sources = list(args.sources)
        sources += object_sources(args.objects, args.text_properties, args.title_property)
        if args.refs:
            assert args.collection is not None
            backend = await self.backend(ctx)
            with backend_errors():
                records = await backend.get(args.collection, args.refs)
            sources += object_sources(
                [{"ref": r.id, "properties": r.properties} for r in records],
                args.text_properties,
                args.title_property,
            )
        sources = [s for s in sources if s.text.strip()]
        if not sources:
            raise NonRetryableToolError(
                "cited_summarize: no source text to summarise (the query found nothing?)"
            )
        provider = None
        if args.mode == "auto":
            provider = await self.model(ctx)
        if provider is None:
            parts = extractive(args.question, sources, args.max_sentences)
            return _cited(parts, sources, method="extractive")
        known = {s.ref for s in sources}

        def check(answer: _Answer) -> str | None:
            unknown = sorted({r for s in answer.sentences for r in s.refs} - known)
            if unknown:
                return f"unknown reference ids {unknown}; cite only ids from the sources"
            if any(not s.refs for s in answer.sentences):
                return "every sentence needs at least one reference id"
            return None

        result = await complete_structured(
            provider, _prompt(args, sources), _Answer, tier="complex", check=check
        )
        parts = result.value.sentences[: args.max_sentences * 2]
        return _cited(parts, sources, method="llm", usage=total_usage(result.usage))


def _prompt(args: CitedSummarizeInput, sources: Sequence[Source]) -> list[Message]:
    listed = "\n".join(
        f"- ref {s.ref}{f' ({s.title})' if s.title else ''}: {s.text[:MAX_SOURCE_CHARS]}"
        for s in sources
    )
    return [
        Message(
            role="system",
            content="Answer the question only from the sources. Write at most "
            f"{args.max_sentences} sentences; give each the reference ids (refs) of the "
            "sources it rests on. Answer as JSON.",
        ),
        Message(role="user", content=f"Question: {args.question}\nSources:\n{listed}"),
    ]
