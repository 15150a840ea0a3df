"""Tools that ship with Treeflow."""

from activities.builtin.aggregate import Aggregate
from activities.builtin.cited_summarize import CitedSummarize
from activities.builtin.decision_agent import DecisionAgent
from activities.builtin.http_request import HttpRequest
from activities.builtin.llm_decision import LLMDecision
from activities.builtin.preprocess import PreprocessCollection
from activities.builtin.query import Query
from activities.builtin.router import EmbeddingRouter, router
from activities.builtin.summarize import summarize
from activities.builtin.text_response import text_response
from activities.builtin.visualize import visualize

BUILTIN_TOOLS: tuple[object, ...] = (
    text_response,
    summarize,
    HttpRequest,
    router,
    EmbeddingRouter,
    LLMDecision,
    DecisionAgent,
    Query,
    Aggregate,
    PreprocessCollection,
    visualize,
    CitedSummarize,
)

__all__ = ["BUILTIN_TOOLS"]
