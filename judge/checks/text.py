"""What the constraint checks count in a text: words, characters, sentences, paragraphs,
a keyword's occurrences, the language (judge/checks/constraints.py states the definitions)."""

from __future__ import annotations

import importlib.util
import re

from judge.extras import install_hint

LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
    "zh-cn": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "ar": "Arabic",
    "hi": "Hindi",
    "bn": "Bengali",
    "ur": "Urdu",
    "fa": "Persian",
    "tr": "Turkish",
    "vi": "Vietnamese",
    "th": "Thai",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "mr": "Marathi",
    "gu": "Gujarati",
    "kn": "Kannada",
    "pa": "Punjabi",
    "ml": "Malayalam",
    "ne": "Nepali",
    "fi": "Finnish",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
    "no": "Norwegian",
    "da": "Danish",
    "el": "Greek",
    "he": "Hebrew",
    "id": "Indonesian",
    "uk": "Ukrainian",
    "cs": "Czech",
    "ro": "Romanian",
    "hu": "Hungarian",
    "bg": "Bulgarian",
}
ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "vs",
    "etc",
    "inc",
    "ltd",
    "co",
    "corp",
    "no",
    "vol",
    "fig",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
    "u.s",
    "u.k",
    "approx",
    "dept",
    "est",
    "mt",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
}


def count_words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def count_characters(text: str) -> int:
    """Length as Chinese/Japanese writers count it (字数): each CJK character counts one, and
    each run of other letters or digits counts one."""
    return len(
        re.findall(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff]|[^\W\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff]+", text)
    )


def split_sentences(text: str) -> list[str]:
    """Sentences of the text: one ends at [.!?] followed by a space, or at a blank line
    (a verse line or a heading without a full stop does not end one)."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        start = 0
        for end in re.finditer(r"[.!?]+[\"')\]]*(?=\s|$)", block):
            before = block[start : end.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            is_abbreviation = end.group().startswith(".") and (  # or a list number "1."
                last in ABBREVIATIONS
                or (before == [last] and last.isdigit())
                or (len(last) == 1 and last.isalpha())
                or re.fullmatch(r"(?:[a-z]\.)+[a-z]", last)
            )
            if not is_abbreviation:
                sentences.append(block[start : end.end()].strip())
                start = end.end()
        sentences.append(block[start:].strip())
    return [s for s in sentences if re.search(r"\w", s)]


# A first sentence ends at ., !, ? or their CJK forms followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")


def first_sentence(text: str) -> str:
    """The first non-empty sentence (or line) of text: a cut that looks like the start of an
    answer and holds none (training negatives: judge/audit/augment.py, judge/train/negatives.py)."""
    for piece in _SENTENCE_END.split(text.strip()):
        if piece.strip():
            return piece.strip()
    return ""


def split_paragraphs(text: str, separator: str = "***") -> list[str]:
    pattern = r"\n\s*\n" if separator == "blank_line" else r"\s*\*\*\*+\s*"
    return [p for p in re.split(pattern, text) if p.strip()]


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """The keyword as a whole word or phrase, any case, plural or possessive allowed
    ("sneaker" is in "SNEAKERS"; "art" is not in "party")."""
    return re.compile(r"(?<!\w)" + re.escape(keyword.strip()) + r"(?:e?s|['’]s)?(?!\w)", re.IGNORECASE)


def strip_code_fence(text: str) -> str:
    text = text.strip()
    text = re.sub(r"^```[A-Za-z]*\s*", "", text)
    return re.sub(r"\s*```$", "", text)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code from langdetect (seeded: it is random otherwise), None if it cannot tell."""
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        return detect(text)
    except LangDetectException:
        return None


def language_needed() -> str | None:
    if importlib.util.find_spec("langdetect") is None:
        return f"this check needs the langdetect package: {install_hint('verify')}"
    return None


# Each check returns (met, what was seen); the spec's parameters arrive as keywords.
