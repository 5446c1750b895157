"""OpenRLHF's remote reward rows: the response hidden inside ``query``.

OpenRLHF posts ``query`` = the decoded sequence (prompt tokens, possibly truncated, then the
response tokens with the policy's end-of-turn and padding tokens left in) and ``prompts`` =
the prompt text. A judge must see only the response, without those tokens: a trailing
``<|im_end|>`` is not part of what the policy said, and a prompt judged as part of the
response inflates every criterion it happens to mention.
"""

from __future__ import annotations

from collections.abc import Iterable

# End-of-turn, end-of-text and padding tokens of common chat formats (ChatML/Qwen, Llama 2/3,
# Mistral, Gemma, Phi-3, GPT-2 style); ``rubric serve --strip-token`` adds more.
SPECIAL_TOKENS = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|finetune_right_pad_id|>",
    "</s>",
    "<eos>",
    "<end_of_turn>",
    "<|end|>",
    "<|im_start|>",
    "<pad>",
    "[PAD]",
    "<|pad|>",
    "<|eos|>",
)
ANCHORS = (64, 32, 16)  # lengths of the prompt's end looked for in the query when the prefixes differ


def strip_special(text: str, tokens: Iterable[str] = SPECIAL_TOKENS) -> str:
    """``text`` without trailing special tokens (repeated, with the whitespace between them)."""
    ordered = sorted({t for t in tokens if t}, key=len, reverse=True)
    text = text.rstrip()
    while True:
        for token in ordered:
            if text.endswith(token):
                text = text[: -len(token)].rstrip()
                break
        else:
            return text


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def split_query(query: str, prompt: str, tokens: Iterable[str] = SPECIAL_TOKENS) -> str:
    """The response inside an OpenRLHF ``query``.

    - the query starts with the prompt: what follows it;
    - otherwise (the prompt was truncated, or decode(encode(prompt)) is not byte-identical):
      after the last occurrence of the prompt's end (its last 64, 32 or 16 characters, the
      longest found: where the generation prompt sits) beyond the longest common prefix,
      else after that prefix.
    Trailing special tokens are stripped either way; a query without a prompt is all response.
    """
    if not prompt:
        cut = 0
    elif query.startswith(prompt):
        cut = len(prompt)
    else:
        cut = common_prefix(query, prompt)
        for length in ANCHORS:
            tail = prompt[-length:]
            found = query.rfind(tail, max(0, cut - len(tail)))
            if found >= 0:
                cut = found + len(tail)
                break
    return strip_special(query[cut:], tokens)
