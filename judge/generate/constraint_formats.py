"""Extraction rules for the response's form: JSON, titles, bullets, highlighted and marked
sections, placeholders, postscripts, paragraphs, start and end phrases, repeating the request."""

from __future__ import annotations

import re


from judge.generate.constraint_phrases import COUNT, ORDINALS, Extraction, counts, to_number


def _formats(sentence: str, found: Extraction, text: str) -> bool:
    s = sentence.lower()
    hit = False
    if (
        "json" in s
        and re.search(r"format|wrap|block|output|\bin json", s)
        and not re.search(r"keywords?\s+[^.]*json", s)
    ):
        found.add("detectable_format:json_format")
        hit = True
    if "<<" in sentence or "angular bracket" in s:
        found.add("detectable_format:title")
        hit = True
    if re.search(r"double quot|double quotation|in quotes|quotation marks", s) and re.search(
        r"wrap|around|entire|whole|put", s
    ):
        found.add("startend:quotation")
        hit = True
    if "my answer is yes" in s:
        found.add("detectable_format:constrained_response")
        hit = True
    if re.search(r"\*{6}|\b(?:6|six)\s+asterisk", s):
        found.add("combination:two_responses")
        hit = True
    return hit


def _stated_count(sentence: str, pattern: str, kind: str, key: str, default: str, found: Extraction) -> bool:
    """A count of things ("exactly 3 bullet points"); the relation is stored only when it is
    not the family's usual one."""
    m = re.search(COUNT + pattern, sentence, re.IGNORECASE)
    if not m:
        return False
    for relation, n in counts(m, default):
        found.add(kind, **{key: n}, **({} if relation == default else {"relation": relation}))
    return True


def _bullets(sentence: str, found: Extraction) -> bool:
    pattern = r"\s+(?:very\s+short\s+|short\s+|markdown\s+)?bullet(?:\s+points?|s)\b"
    return _stated_count(sentence, pattern, "detectable_format:number_bullet_lists", "num_bullets", "exactly", found)


def _highlights(sentence: str, found: Extraction) -> bool:
    s = sentence.lower()
    if (
        not re.search(r"highlight|italic", s)
        or not re.search(r"markdown|\*|italic|section|asterisk", s)
        or "capital" in s
    ):
        return False
    m = re.search(COUNT + r"\s+(?:[\w-]+\s+){0,2}?(?:sections?|parts?|phrases?|keywords?|words?)", s) or re.search(
        r"(?P<n>twice)", s
    )
    n = 2 if m and m.group("n") == "twice" else to_number(m.group("n")) if m else 1
    found.add("detectable_format:number_highlighted_sections", num_highlights=n or 1)
    return True


def _sections(sentence: str, found: Extraction, text: str) -> bool:
    m = re.search(COUNT + r"[\s-]+sections?\b", sentence, re.IGNORECASE)
    if not m or re.search(r"highlight|italic", sentence, re.IGNORECASE):
        return False
    if re.search(r"(?<!\*)\*\*\*(?!\*)|markdown divider", text, re.IGNORECASE):  # sections split by *** are paragraphs
        return _paragraphs(sentence.replace("section", "paragraph"), found, text)
    after = text[text.find(sentence) :]
    marker = re.search(r"\b(?P<name>[A-Z][A-Za-z]*) X\b", after) or re.search(r"\b(?P<name>[A-Z][A-Za-z]*) 1\b", after)
    if not marker:
        return False
    n = to_number(m.group("n"))
    found.add("detectable_format:multiple_sections", num_sections=n, section_spliter=marker.group("name"))
    return True


def _placeholders(sentence: str, found: Extraction) -> bool:
    return _stated_count(
        sentence, r"\s+placeholders?", "detectable_content:number_placeholders", "num_placeholders", "at least", found
    )


def _postscript(sentence: str, found: Extraction) -> bool:
    m = re.search(r"\bP\.\s?P\.\s?S\b|\bP\.\s?S\b", sentence)
    if not m or not re.search(r"post ?script|note|\bend\b|add", sentence, re.IGNORECASE):
        return False
    found.add(
        "detectable_content:postscript",
        postscript_marker="P.P.S" if re.sub(r"\s", "", m.group()).upper().startswith("P.P") else "P.S.",
    )
    return True


def _paragraphs(sentence: str, found: Extraction, text: str) -> bool:
    m = re.search(COUNT + r"[\s-]+paragraphs?\b", sentence, re.IGNORECASE)
    if not m:
        return False
    first = re.search(
        r"(?:(?:the\s+)?(?:very\s+)?(?P<ord>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(?:st|nd|rd|th))\s+paragraph|paragraph\s+(?P<num>\d+))"
        r"\s+(?:must|should|will|to)?\s*(?:start|begin)s?\s+with\s+(?:the\s+)?(?:word\s+)?[\"“'‘]?(?P<word>[\w'-]+)",
        text,
        re.IGNORECASE,
    ) or re.search(
        r"(?:start|begin)\s+(?:the\s+)?(?:(?P<ord>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(?:st|nd|rd|th))\s+paragraph|paragraph\s+(?P<num>\d+))"
        r"\s+with\s+(?:the\s+word\s+)?[\"“'‘]?(?P<word>[\w'-]+)",
        text,
        re.IGNORECASE,
    )
    for relation, n in counts(m, "exactly"):
        if first and relation == "exactly":
            word = first.group("ord") or first.group("num")
            nth = n if word.lower() == "last" else ORDINALS.get(word.lower()) or int(re.sub(r"\D", "", word))
            found.add(
                "length_constraints:nth_paragraph_first_word",
                num_paragraphs=n,
                nth_paragraph=nth,
                first_word=first.group("word").lower(),
            )
        else:
            separator = (
                "***" if "***" in text or re.search(r"markdown divider|asterisk", text, re.IGNORECASE) else "blank_line"
            )
            found.add(
                "length_constraints:number_paragraphs",
                num_paragraphs=n,
                **({} if relation == "exactly" else {"relation": relation}),
                **({} if separator == "***" else {"separator": separator}),
            )
        return True
    return False


def _end_phrase(text: str, found: Extraction) -> bool:
    m = re.search(
        r"(?:\b(?:end|ends|finish|finishes|conclude)\s+(?:\w+\s+){0,4}?with|very end of (?:\w+\s+){0,3}?(?:should|must) read)\s*(?:exactly\s*)?(?:like\s*)?"
        r"(?:(?:this|the|a)\s+)?(?:exact\s+|EXACT\s+)?(?:phrase|question|sentence|words?)?\s*(?:of\s+)?:?\s*(?P<rest>.+)",
        text,
        re.IGNORECASE | re.DOTALL,
    )
    if not m or re.match(r"\s*(?:a\s+)?(?:post ?script|P\.)", m.group("rest"), re.IGNORECASE):
        return False
    rest = m.group("rest").strip()
    q = re.match(r"[\"“]([^\"”]+)[\"”]", rest)
    if q:
        phrase = q.group(1)
    elif re.search(r"\b(?:phrase|question|sentence)\b|:\s*$|with:", text[m.start() : m.start("rest")], re.IGNORECASE):
        phrase = re.split(r"\s+(?:No|and no|Do not)\s+(?:other\s+)?(?:words|anything)|\n", rest)[0].strip()
    else:
        return False
    if not phrase or len(phrase.split()) > 25:
        return False
    found.add("startend:end_checker", end_phrase=phrase.strip())
    return True


def _start_phrase(text: str, found: Extraction) -> bool:
    m = re.search(
        r"\b(?:start|begin)\s+(?:your|the)\s+(?:entire\s+)?(?:response|answer|reply)\s+with\s+(?:the\s+(?:exact\s+)?(?:phrase|word|sentence)\s+)?[\"“]([^\"”]+)[\"”]",
        text,
        re.IGNORECASE,
    )
    if not m:
        return False
    found.add("startend:start_checker", start_phrase=m.group(1).strip())
    return True


def _repeat(text: str, found: Extraction) -> bool:
    m = re.search(
        r"[^\n]*\brepea?t\w*\b[^\n]*\b(?:request|prompt|sentence|question|text|line|it)\b[^\n]*", text, re.IGNORECASE
    )
    if not m:
        return False
    line = m.group()
    direct = re.search(r"repeat\s+[\"“]([^\"”]+)[\"”]", line, re.IGNORECASE)
    if direct:
        request = direct.group(1)
    elif re.search(r"\bbelow\b|following request", line, re.IGNORECASE):
        after = text[m.end() :]
        gap = re.search(r"\n\s*\n", after)  # the request starts after this paragraph of instructions
        request = (after[gap.end() :] if gap else after).strip()
    else:
        request = text[: m.start()].strip()
        if re.search(r"first line", line, re.IGNORECASE):
            request = request.splitlines()[0] if request else ""
    if not request:
        return False
    found.add("combination:repeat_prompt", prompt_to_repeat=request)
    return True


# in the order the extractor applies them (constraint_extraction.extract)
SENTENCE_RULES = (_bullets, _highlights, _placeholders, _postscript)
TEXT_SENTENCE_RULES = (_formats, _sections, _paragraphs)
WHOLE_TEXT_RULES = (_repeat, _end_phrase, _start_phrase)
