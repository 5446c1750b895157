"""Checks on the judged response made before any model is called.

A response with no substantive content cannot satisfy a criterion, and judges are known
to say "yes" to such responses ("One Token to Fool LLM-as-a-Judge"). This module decides
those cases without the judge.
"""

from __future__ import annotations

import unicodedata


def content_free_reason(response: str) -> str | None:
    """Why the response has no content to judge, or None if it has some."""
    if not response.strip():
        return "empty or whitespace-only response"
    if not any(unicodedata.category(ch)[0] in "LN" for ch in response):
        return "response has no letters or digits (only punctuation, symbols or spacing)"
    return None
