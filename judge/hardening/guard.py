"""The content-free response guard, applied before any model is called.

Judges say "yes" to responses that contain nothing: a space, a colon, "Thought process:",
"解" ("One Token to Fool LLM-as-a-Judge", arXiv 2507.08794), and an RL policy finds new
such strings quickly. So the guard does not look for known keys: it reads the response
sentence by sentence and asks what each one does. A sentence that announces, plans or
frames an answer ("Let me carefully consider each aspect before I respond."), a label or
heading with nothing under it, an empty answer slot ("Answer: ___") or bare formatting
carries no content; a sentence with a number, a name, code, a quotation, a yes or a no, or
any word outside the vocabulary of answering itself does. A response none of whose
sentences carries content cannot satisfy a criterion, and the decision names the rule that
fired for each sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from judge.hardening import lexicon
from judge.hardening.reasoning import Answer, Reasoning, answer_part, empty_answer_reason

_HTML_TAG = re.compile(r"</?[A-Za-z][^>]{0,200}>")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?")  # \boxed{42} keeps 42; \text{Solution} keeps Solution
# "Step 3" and list numbers say nothing; letter/digit boundaries, since \b does not fire after "_".
_STEP_NUMBER = re.compile(
    r"(?<![^\W_])(?i:step|part|section|stage|phase|paso|parte|étape|etape|schritt|teil|passo|шаг|часть)\s*(?:\d+|[A-Z](?![^\W_]))(?![^\W_])"
    r"|第\s*\d+\s*[步歩部]"
)
# A key with an empty value, as in JSON or YAML: "answer": "", answer: null, "steps": [].
_EMPTY_VALUE = re.compile(r"""(?<=:)\s*(?:""|''|null|None|\[\s*\]|\{\s*\})\s*(?=,|\}|$)""", re.MULTILINE)
_LIST_NUMBER = re.compile(r"(?m)^\s*\d+[.)]\s")
_HEADING = re.compile(r"^\s*(?:#{1,6}\s|\*\*[^*]+\*\*\s*:?\s*$|__[^_]+__\s*:?\s*$)")
# An answer slot left empty: "___", "[ ]", "[insert answer here]", "<your answer>", "{answer}", "\boxed{}".
_SLOT = re.compile(
    r"_{2,}|\[[^\[\]\n]{0,40}\]|【[^【】\n]{0,20}】|<[^<>\n]{0,40}>|\{[^{}\n]{0,30}\}|\b(?:TBD|TBA|TODO|XXX)\b|\?{3,}"
)
_SENTENCE_END = re.compile(r"(?<=[.!?…:;])[*_]*\s+|(?<=[。！？：；])|\n+")
_EMPHASIS = re.compile(r"[*#>|~]+|(?<![^\W_])_+|_+(?![^\W_])|^\s*[-+]\s+")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# Each repeated run starts only where a run could begin (look-behinds): otherwise a long run of
# letters is rescanned from every position, and a 32,000-character answer takes seconds.
_CODE = re.compile(
    r"`[^`\n]*[^\W_][^`\n]*`|(?<![^\W\d_])[^\W\d_]\w*\(|(?<!\w)\w+\.\w+\(|\b[a-z]+_[a-z_]+\b|\b[a-z]+[A-Z]\w*\b"
)
_OPERATOR = re.compile(r"[^\W_]\s*(?:==|!=|<=|>=|[=+*/^<>%])\s*[^\W_(]|[^\W_]\s+-\s+[^\W_]")
_QUOTED = re.compile(r"[\"“«„]([^\"”»\n]{1,200})[\"”»]")
_URL = re.compile(r"https?://\S+|(?<![^\s@])[^\s@]+@[^\s@]+\.\w+\b")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")

# What a sentence without content is doing, for the decision's explanation.
ROLES = {
    "formatting": "formatting only",
    "slot": "an empty answer slot",
    "label": "a label or heading with nothing under it",
    "meta": "meta-discourse (announcing, planning or framing an answer)",
}


SOFT = ("the word ", "a statement in function words")  # content the semantic reader may overrule


@dataclass(frozen=True)
class Sentence:
    text: str
    role: str  # "content" or one of ROLES
    why: str = ""  # for content: what carries it; for meta placed by the semantic reader: its nearest neighbour

    @property
    def soft(self) -> bool:
        return self.role == "content" and self.why.startswith(SOFT)


@dataclass(frozen=True)
class GuardDecision:
    """Why a response is content-free (``reason`` and the ``rule`` that fired), or that it is not."""

    rule: str | None  # None: the response has content
    reason: str | None
    sentences: tuple[Sentence, ...] = ()

    @property
    def content_free(self) -> bool:
        return self.rule is not None


def _strip_markup(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _HTML_TAG.sub(" ", text)
    text = _LATEX_COMMAND.sub(" ", text)
    text = _STEP_NUMBER.sub(" ", text)
    text = _EMPTY_VALUE.sub(" ___", text)  # an empty value is an empty answer slot
    return _LIST_NUMBER.sub(" ", text)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _contraction(word: str) -> list[str]:
    """ "I'll" -> ["I", "ll"]; "don't" -> ["do", "n't"] (n't is an answer word: negation)."""
    if word.casefold().endswith("n't"):
        return [word[:-3], "n't"]
    return word.replace("’", "'").split("'")


def has_formula(text: str) -> bool:
    """A URL, an address, code or a formula ("24 - 17 = 7", ``len(x)``)."""
    return bool(_URL.search(text) or _CODE.search(text) or _OPERATOR.search(text))


def _content_signal(sentence: str) -> str | None:
    """What in the sentence carries content, if anything: a number, code, a quotation, a
    name, an answer word, or a word outside the vocabulary of answering."""
    if re.search(r"\d", sentence):
        return "a number"
    if has_formula(sentence):
        return "code or a formula"
    for quoted in _QUOTED.findall(sentence):
        if _content_signal(quoted.replace('"', " ")):  # a quoted "answer" key says nothing; "hello" does
            return "a quotation"
    rest = sentence
    if _CJK.search(rest):
        for word in lexicon.ANSWER_WORDS:
            if _CJK.search(word) and word in rest:
                return "an answer word"
        for opener in sorted(lexicon.META_SUBSTRINGS, key=len, reverse=True):
            rest = rest.replace(opener, " ")
    words = [part for word in _WORD.findall(rest) for part in _contraction(word) if part]
    if any(lexicon.is_answer_word(word) for word in words):
        return "an answer word"
    ordinary = [
        (position, word)
        for position, word in enumerate(words)
        if not lexicon.is_meta(word) and not lexicon.is_function(word)
    ]
    for position, word in enumerate(words):  # the strong signals first: the semantic reader never overrules them
        if len(word) == 1 and word.isupper() and word != "I" and (position > 0 or len(words) == 1):
            return "an option letter"
    for position, word in ordinary:
        if position > 0 and word[0].isupper() and word != "I":
            return "a name"
    return f"the word {ordinary[0][1]!r}" if ordinary else None


def read_sentence(sentence: str) -> Sentence:
    """One sentence's role: content (and what carries it) or one of ROLES."""
    slots = _SLOT.findall(sentence)
    if not any(unicodedata.category(ch)[0] in "LN" for ch in sentence):
        return Sentence(sentence, "slot" if slots else "formatting")
    if any(
        _content_signal(" ".join(w for w in _WORD.findall(slot) if w.casefold() not in lexicon.PLACEHOLDER))
        for slot in slots
    ):
        slots = []  # a bracket that holds an answer: "[B]", "<Paris>", "{x: 3}"
    rest = _EMPHASIS.sub(" ", _SLOT.sub(" ", sentence) if slots else sentence)
    if (why := _content_signal(rest)) is not None:
        return Sentence(sentence, "content", why)
    words = [part for word in _WORD.findall(rest) for part in _contraction(word) if part]
    if slots:
        return Sentence(sentence, "slot")
    if words and not _CJK.search(rest) and not any(lexicon.is_meta(w) for w in words):
        return Sentence(sentence, "content", "a statement in function words")  # "It is what it is."
    if not words:
        return Sentence(sentence, "formatting")
    if sentence.rstrip(" *_").endswith((":", "：")) or _HEADING.match(sentence):
        return Sentence(sentence, "label")
    return Sentence(sentence, "meta")


def inspect(response: str, reader: Callable[[Sequence[str]], Sequence[Any]] | None = None) -> GuardDecision:
    """The guard's reading of a response: each sentence's role, and the rule that makes the
    whole content-free (or None). ``reader`` (semantic.SemanticReader) gets a say on the
    sentences whose only content is an ordinary word, once nothing else carries any."""
    if not response.strip():
        return GuardDecision("empty", "empty or whitespace-only response")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in response):
        return GuardDecision("symbols", "response has no letters or digits (only punctuation, symbols or spacing)")
    text = _strip_markup(response)
    sentences = []
    for line in text.splitlines() or [text]:
        heading = bool(_HEADING.match(line))
        for part in split_sentences(line):
            found = read_sentence(part)
            if heading and found.role == "meta":
                found = Sentence(found.text, "label")
            sentences.append(found)
    semantic = False
    if reader is not None and sentences and all(s.role != "content" or s.soft for s in sentences):
        soft = [i for i, s in enumerate(sentences) if s.soft]
        readings = reader([sentences[i].text for i in soft])
        if all(r.meta for r in readings):
            for i, r in zip(soft, readings):
                sentences[i] = Sentence(sentences[i].text, "meta", f"close to {r.nearest!r} ({r.similarity:.2f})")
            semantic = bool(soft)
    if any(s.role == "content" for s in sentences):
        return GuardDecision(None, None, tuple(sentences))
    roles = sorted({s.role for s in sentences}, key=list(ROLES).index)
    if not sentences:
        return GuardDecision("formatting", "response has no content beyond formatting")
    shown = "; ".join(f"{ROLES[r]}: {next(s.text for s in sentences if s.role == r)[:60]!r}" for r in roles)
    if semantic:
        shown += "; read as meta-discourse by meaning: " + "; ".join(
            f"{s.text[:40]!r} {s.why}" for s in sentences if s.why.startswith("close to")
        )
    return GuardDecision(
        "+".join(roles) + ("+semantic" if semantic else ""), f"no sentence carries content ({shown})", tuple(sentences)
    )


def content_free_reason(response: str, reader: Callable[[Sequence[str]], Sequence[Any]] | None = None) -> str | None:
    """Why the response has no content to judge, naming the rule, or None if it has some."""
    decision = inspect(response, reader)
    return None if decision.reason is None else f"content-free [{decision.rule}]: {decision.reason}"


def screen(
    response: str, reasoning: Reasoning = "exclude", reader: Callable[[Sequence[str]], Sequence[Any]] | None = None
) -> tuple[Answer, str | None]:
    """The part of a response to judge (without its reasoning unless ``include``) and, if it
    is content-free, why, naming the rule."""
    answer = answer_part(response, reasoning)
    return answer, empty_answer_reason(answer) or content_free_reason(answer.text, reader)
