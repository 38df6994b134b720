"""Providers behind one narrow interface: `complete` and `stream` over an OpenAI-format body."""

from gateway.providers.base import Completion, Provider, UpstreamError, Usage

__all__ = ["Completion", "Provider", "UpstreamError", "Usage"]
