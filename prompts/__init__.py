"""Prompt templates (jinja2 files in this folder) and the quoting of untrusted text.

A template is one file whose named blocks are the chat messages, in the order
``system``, ``user``. User data enters only as variables, never as template source;
a missing variable is an error (StrictUndefined). Untrusted text goes through the
``as_data`` filter, which wraps it in delimiters it cannot forge.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_DIR = Path(__file__).parent
ROLES = ("system", "user")

# Markers a response could use to pose as our delimiters or as chat-template turns.
_FORGEABLE = re.compile(
    r"<(?=\s*/?\s*(?:data|prompt|response|reference|criterion|system|user|assistant)(?:\b|_))"  # our tags, role tags
    r"|<(?=\|)"  # <|im_start|>, <|eot_id|>, <|start_header_id|> ...
    r"|<(?=/?s>)|<(?=<SYS>>)|<(?=/?SYS>>)"  # <s> </s> <<SYS>>
    r"|\[(?=/?INST\])"  # [INST] [/INST]
    r"|<(?=(?:start|end)_of_turn>)|<(?=bos>)|<(?=eos>)",
    re.IGNORECASE,
)


def neutralise(text: str) -> str:
    """Break lookalike delimiters and chat-template markers by swapping their opening
    bracket for a similar-looking character; the text still reads the same to a judge."""
    return _FORGEABLE.sub(lambda m: "‹" if m.group() == "<" else "⟦", text)


def nonce(text: str) -> str:
    """A delimiter code derived from the (neutralised) text itself.

    To forge the closing delimiter a text would have to contain a hash of itself; and
    since it depends on content only, every criterion of one response shares the same
    prefix, which keeps judgements cacheable and prefix caches warm.
    """
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def as_data(text: Any, label: str = "data") -> str:
    """Quote untrusted text as data: <label-NONCE> ... </label-NONCE>."""
    if isinstance(text, list):
        text = format_messages(text)
    safe = neutralise(str(text))
    code = nonce(safe)
    return f"<{label}-{code}>\n{safe}\n</{label}-{code}>"


def format_messages(messages: list[dict[str, Any]]) -> str:
    """A chat transcript as plain text for quoting inside a judge prompt."""
    return "\n\n".join(f"[{m.get('role', 'user')}]\n{m.get('content', '')}" for m in messages)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["as_data"] = as_data
    return env


@cache
def template_version(name: str) -> str:
    """Changes whenever the template file does (part of cache keys)."""
    source = (TEMPLATE_DIR / f"{name}.jinja").read_bytes()
    return f"{name}@{hashlib.sha256(source).hexdigest()[:12]}"


def render_messages(name: str, **variables: Any) -> list[dict[str, str]]:
    """Render template ``name`` into chat messages, one per role block it defines."""
    template = environment().get_template(f"{name}.jinja")
    context = template.new_context(variables)
    messages = []
    for role in ROLES:
        block = template.blocks.get(role)
        if block is not None:
            content = "".join(block(context)).strip()
            messages.append({"role": role, "content": content})
    if not messages:
        raise ValueError(f"template {name!r} defines none of the blocks {ROLES}")
    return messages
