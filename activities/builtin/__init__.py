"""Tools that ship with Treeflow."""

from activities.builtin.http_request import HttpRequest
from activities.builtin.llm_decision import LLMDecision
from activities.builtin.router import router
from activities.builtin.summarize import summarize
from activities.builtin.text_response import text_response

BUILTIN_TOOLS: tuple[object, ...] = (text_response, summarize, HttpRequest, router, LLMDecision)

__all__ = ["BUILTIN_TOOLS"]
