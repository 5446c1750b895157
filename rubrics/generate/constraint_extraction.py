"""Instruction text -> typed constraint specs that code can check (judge/checks/constraints.py).

Rules are written from how people phrase verifiable instructions ("at least 300 words",
"do not use any commas", "wrap your entire response with double quotation marks"). Each
rule reads the whole instruction or one sentence of it and returns specs; a sentence that
sounds like a constraint but no rule understood is returned as *unparsed*, so a model can
judge it instead (nothing is silently dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from judge.checks.constraints import LANGUAGES

NUMBER_WORDS = {
    "zero": 0, "one": 1, "a single": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100,
}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
NUM = r"(?:\d[\d,]*|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
QUALIFIERS = [
    ("at least", r"at least|no less than|not less than|no fewer than|a minimum of|minimum of|at minimum"),
    ("at most", r"anything longer than|nothing longer than|at most|no more than|not more than|a maximum of|maximum of|up to|not exceed(?:ing)?|no longer than"),
    ("less than", r"less than|fewer than|under|below"),
    ("more than", r"more than|over|greater than"),
    ("exactly", r"exactly|precisely|just|only"),
]
QUAL = "|".join(pattern for _, pattern in QUALIFIERS)
# "at least 300", "300+", "300 or more", "100 to 120", "5 or 6", "between 20 and 30", "in the range of 40 to 60"
COUNT = (
    rf"(?:(?P<qual>{QUAL})\s+(?:a total of\s+)?)?(?:between\s+|in the range of\s+)?(?P<n>{NUM})"
    rf"(?:\s*(?P<plus>\+)|\s+(?P<post>or more|or less|or fewer|or above|or below)|\s*(?:-|–|to|and|or)\s*(?P<m>{NUM}))?"
)
NEGATION = r"\b(?:no|not|n't|never|without|avoid|refrain|forbid|exclude|cannot)\b|n't\b"
CONSTRAINT_CUE = re.compile(
    r"\b(?:must|should|make sure|ensure|do not|don't|never|at least|at most|exactly|only|avoid|refrain|limit|"
    r"no more than|less than|wrap|format|include|end (?:with|your)|start (?:with|your)|separate|highlight)\b",
    re.IGNORECASE,
)


def to_number(text: str) -> int | None:
    text = text.strip().lower().replace(",", "")
    if text.isdigit():
        return int(text)
    return NUMBER_WORDS.get(text)


def relation_of(qualifier: str | None, default: str) -> str:
    if not qualifier:
        return default
    for relation, pattern in QUALIFIERS:
        if re.fullmatch(pattern, qualifier.lower()):
            return relation
    return default


def counts(match: re.Match[str], default: str) -> list[tuple[str, int]]:
    """(relation, number) pairs a COUNT match states; a range gives two."""
    n = to_number(match.group("n"))
    if n is None:
        return []
    if match.group("m"):
        m = to_number(match.group("m"))
        return [("at least", n), ("at most", m)] if m is not None and m > n else []
    if match.group("plus"):
        return [("at least", n)]
    post = (match.group("post") or "").lower()
    if post in ("or more", "or above"):
        return [("at least", n)]
    if post in ("or less", "or fewer", "or below"):
        return [("at most", n)]
    return [(relation_of(match.group("qual"), default), n)]


def sentences_of(text: str) -> list[str]:
    """The instruction's sentences (quoted text stays whole; list items split on their own lines)."""
    parts = re.split(r"(?<=[.!?])[\"”']?\s+(?=[A-Z\"“'(\[*<])|\n+", text)
    return [p.strip() for p in parts if p and p.strip()]


def quoted(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in re.finditer(r"\"([^\"]+)\"|“([^”]+)”|”([^\"”]+)\"|(?<!\w)'([^']+)'(?!\w)|‘([^’]+)’", text)]


ONCE = {"detectable_format:number_highlighted_sections", "detectable_format:number_bullet_lists", "detectable_content:number_placeholders", "detectable_content:postscript"}


@dataclass
class Extraction:
    """What the extractor found: specs (each {"type": ..., params}) and the constraint-like
    sentences it could not turn into one."""

    specs: list[dict[str, Any]] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)

    def add(self, kind: str, **params: Any) -> None:
        spec = {"type": kind, **params}
        if kind in ONCE and kind in self.types():
            return  # an example after the instruction ("i.e. *highlighted section*") restates it
        if spec not in self.specs:
            self.specs.append(spec)

    def types(self) -> set[str]:
        return {s["type"] for s in self.specs}


def _count_rule(sentence: str, unit: str, kind: str, number_key: str, default: str, found: Extraction, relation_key: str = "relation") -> bool:
    hit = False
    for m in re.finditer(COUNT + rf"[\s-]*(?:{unit})\b(?P<after>[^.;]{{0,40}})", sentence, re.IGNORECASE):
        if re.search(r"\bnot\s*(?:a\s*)?$", sentence[: m.start()]):
            continue  # "not a single word ..."
        if unit.startswith("word") and re.search(r"capital|caps|upper", m.group("after"), re.IGNORECASE):
            continue  # "at least 3 words in all capital letters": a capital-word count
        after = re.match(r"\s*(?:long\s+)?(or more|or less|or fewer)", m.group("after"), re.IGNORECASE)
        stated = [("at least" if after.group(1).lower() == "or more" else "at most", to_number(m.group("n")))] if after and not m.group("m") else counts(m, default)
        for relation, n in stated:
            found.add(kind, **{relation_key: relation, number_key: n})
            hit = True
    return hit


def _number_of_rule(sentence: str, unit: str, kind: str, number_key: str, found: Extraction) -> bool:
    """ "the total number of words ... should be 250 or more", "the number of sentences ... in the range of 40 to 60" """
    m = re.search(rf"number of (?:{unit})\b.*?(?:be|is|to)\s+" + COUNT, sentence, re.IGNORECASE)
    if not m or re.search(r"capital|caps", sentence, re.IGNORECASE):
        return False
    for relation, n in counts(m, "exactly"):
        found.add(kind, relation=relation, **{number_key: n})
    return True


def _lengths(sentence: str, found: Extraction) -> bool:
    hit = (_count_rule(sentence, "words?", "length_constraints:number_words", "num_words", "at least", found)
           or _number_of_rule(sentence, "words", "length_constraints:number_words", "num_words", found))
    hit_s = (_count_rule(sentence, "sentences?", "length_constraints:number_sentences", "num_sentences", "exactly", found)
             or _number_of_rule(sentence, "sentences", "length_constraints:number_sentences", "num_sentences", found))
    if not hit_s and re.search(r"\b(?:one|a single)[- ]sentence (?:response|answer|reply)|\bexactly one sentence", sentence, re.IGNORECASE):
        found.add("length_constraints:number_sentences", relation="exactly", num_sentences=1)
        hit_s = True
    return hit or hit_s


def _no_comma(sentence: str, found: Extraction) -> bool:
    if re.search(r"\bcommas?\b", sentence, re.IGNORECASE) and re.search(NEGATION + r"|not allowed", sentence, re.IGNORECASE):
        found.add("punctuation:no_comma")
        return True
    return False


def _case(sentence: str, found: Extraction, text: str) -> bool:
    s = sentence.lower()
    english = "english" in text.lower() or not re.search(r"no other language|\bin (?:only )?(?:the )?[A-Z][a-z]+ language", text)
    negated_lower = re.search(r"\bno lower ?case|not\b[^.]*\blower ?case", s)
    lowercase = not negated_lower and re.search(
        r"lower ?case|lowercased|\bno capital(?:s| letters?|ization)|not (?:contain|use|have|include) any capital|"
        r"without (?:using )?(?:any )?capital|no capitalizations?|not a single letter .*capitali[sz]ed|letters? .*(?:are|be) lower|"
        r"(?:have|has|with) no capital letters|no capital letters",
        s,
    )
    if lowercase:
        found.add("change_case:english_lowercase" if english else "change_case:lowercase")
        return True
    counted = re.search(r"\bwords?\b|\bphrases?\b", s) and re.search(NUM + r"\b|once|twice|\bsome\b|\ba few\b|\bfew\b", s)
    if re.search(r"capital|caps\b|upper ?case", s) and not counted:
        if re.search(r"all capital|all caps|in capital letters|only (?:use )?capital|capitali[sz]e all|all (?:of the )?letters .*capitali[sz]ed|no lower ?case|upper ?case", s):
            found.add("change_case:english_capital" if english else "change_case:capital")
            return True
    return False


def _capital_words(sentence: str, found: Extraction) -> bool:
    s = sentence.lower()
    if not re.search(r"capital letters|all caps|all-caps|capitali[sz]ed|uppercase", s) or not re.search(r"\bwords?\b|\bphrases?\b", s):
        return False
    hit = False
    for m in re.finditer(COUNT + r"(?:\s+times|\s+(?:such )?(?:capitali[sz]ed )?words?)", s):
        if re.match(r"\s*sentences", s[m.end() :]):
            continue
        for relation, n in counts(m, "at least"):
            found.add("change_case:capital_word_frequency", capital_relation=relation, capital_frequency=n)
            hit = True
    if not hit and re.search(r"\b(?:use|include|add)\s+(?:some|a few)?\s*(?:stress )?words", s):
        found.add("change_case:capital_word_frequency", capital_relation="at least", capital_frequency=1)
        hit = True
    return hit


TIMES = rf"(?:{COUNT}\s+times?|(?P<once>(?:(?:{QUAL})\s+)?(?:only\s+)?(?:once|twice)(?:\s+or\s+(?:less|more))?))"


def _times(m: re.Match[str], default: str = "at least") -> list[tuple[str, int]]:
    if m.group("once"):
        words = m.group("once").lower()
        n = 2 if "twice" in words else 1
        if "or less" in words:
            return [("at most", n)]
        if "only" in words:
            return [("exactly", n)]
        qualifier = re.match(QUAL, words)
        return [(relation_of(qualifier.group() if qualifier else None, default), n)]
    return counts(m, default)


def _keyword_frequency(sentence: str, found: Extraction) -> bool:
    hit = False
    word = r"[\"“'‘]?(?P<kw>[A-Za-z][\w'-]*)[\"”'’]?"
    patterns = [
        rf"\b(?:word|keyword|name|term)\s+{word}\s+(?:should|must|to|will|can)?\s*(?:be\s+)?(?:appears?|occurs?|show(?:s)? up|used|mentioned|be used)\s+(?:for\s+|in\s+\w+\s+)?{TIMES}",
        rf"\b(?:use|uses|include|includes|mention|mentions|say|contain|contains|repeat)\s+(?:the\s+)?(?:word|keyword|name|term)\s+{word}\s+(?:for\s+|in\s+(?:your|the)\s+\w+\s+)?{TIMES}",
    ]
    for pattern in patterns:
        for m in re.finditer(pattern, sentence, re.IGNORECASE):
            for relation, n in _times(m):
                keyword = m.group("kw").lower().strip("'’")
                if relation == "at least" and n == 1:
                    found.add("keywords:existence", keywords=[keyword])
                else:
                    found.add("keywords:frequency", keyword=keyword, relation=relation, frequency=n)
                hit = True
    return hit


def _letter_frequency(sentence: str, found: Extraction) -> bool:
    letter = r"[\"“'‘]?(?P<letter>[A-Za-z])[\"”'’]?"
    hit = False
    forbidden = re.search(rf"(?:without (?:using )?|not (?:include|contain|use)|don't (?:include|contain|use)|avoid (?:using )?|no )(?:the |any )?letter\s+{letter}(?!\s+(?:more|at most))", sentence, re.IGNORECASE)
    if forbidden:
        found.add("keywords:letter_frequency", letter=forbidden.group("letter").lower(), let_relation="less than", let_frequency=1)
        return True
    avoid_more = re.search(rf"avoid (?:using )?the letter\s+{letter}\s+more than\s+(?P<n>{NUM}|once|twice)", sentence, re.IGNORECASE)
    if avoid_more:
        n = {"once": 1, "twice": 2}.get(avoid_more.group("n").lower()) or to_number(avoid_more.group("n"))
        found.add("keywords:letter_frequency", letter=avoid_more.group("letter").lower(), let_relation="at most", let_frequency=n)
        return True
    for m in re.finditer(rf"\bletter\s+{letter}\s+(?:(?:should|must|to|will)\s+)?(?:\w+\s+){{0,2}}?{TIMES}", sentence, re.IGNORECASE):
        for relation, n in _times(m):
            found.add("keywords:letter_frequency", letter=m.group("letter").lower(), let_relation=relation, let_frequency=n)
            hit = True
    return hit


def _listed_words(text: str) -> list[str]:
    """Words named after a cue: quoted ones, or a bare list "waste, material and meal"."""
    names = quoted(text)
    if names:
        return [n.strip().strip(".,") for n in names if n.strip()]
    if re.match(r"\s*(?:or|and|before|after|that|which|in|to|with)\b", text, re.IGNORECASE):
        return []  # "any words or characters before ...": no words are named
    bare = re.match(r"\s*:?\s*\[?((?:[\w'-]+(?:,\s*(?:and|or)\s+|\s*,\s*|\s+(?:and|or)\s+)?)+)", text)
    if not bare:
        return []
    words = re.split(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", bare.group(1))
    return [w for w in words if w and w.lower() not in {"in", "the", "your", "response", "answer"}]


def _trim_tail(text: str) -> str:
    return re.split(r"\b(?:in|throughout|anywhere|somewhere|at least|each time)\b(?: (?:your|the|this|my))?|\s+(?:should|must)\b", text, maxsplit=1)[0]


def _forbidden(sentence: str, found: Extraction) -> bool:
    m = re.search(
        r"(?:do not|don't|doesn't|does not|not to|must not|should not|\bnot|never|without|avoid|exclude|refrain from)\s+(?P<verb>\w+ing\s+|use\s+|include\s+|mention\s+|say\s+|contain\s+|add\s+)?"
        r"(?:any\s+)?(?:of\s+)?(?:the\s+)?(?:following\s+)?(?:negative\s+)?(?:(?P<cue>keywords?|words?)\b(?:\s+such as)?)?(?P<rest>.*)",
        sentence, re.IGNORECASE,
    )
    if not m:
        m2 = re.search(r"\b(?:word|words|keywords?)\s+(?P<rest>.+?)\s+(?:should not|must not|cannot|can not|shouldn't|doesn't|does not|do not|may not)\s+(?:appear|be (?:in|used|included))", sentence, re.IGNORECASE)
        if not m2:
            return False
        words = _listed_words(m2.group("rest"))
    else:
        rest = m.group("rest")
        if re.match(r"\s*(?:any\s+)?(?:commas?|capital|letters?|the letter|lowercase)", rest, re.IGNORECASE):
            return False
        if m.group("cue"):
            words = _listed_words(_trim_tail(rest))
        elif (m.group("verb") or "").strip().lower() in {"mention", "mentioning", "say", "saying"} and not re.match(r"\s*(?:any|anything|that|it|this|the)\b", rest, re.IGNORECASE):
            words = _listed_words(_trim_tail(rest))
        else:
            words = [q for q in quoted(rest[:80]) if len(q.split()) <= 3] if re.match(r"\s*[\"“'‘]", rest) else []
    words = [w for w in words if len(w.strip()) > 1 and len(w.split()) <= 3 and not re.search(r"comma|capital", w, re.IGNORECASE)]
    if words:
        found.add("keywords:forbidden_words", forbidden_words=[w.lower() for w in words])
        return True
    return False


def _existence(sentence: str, found: Extraction) -> bool:
    if re.search(r"\b(?:do not|not|never|without|avoid|exclude)\b|n't\b", sentence, re.IGNORECASE):
        return False
    if re.search(r"\b(?:start|begin|end|finish)\w*\s+(?:\w+\s+){0,4}?with\b", sentence, re.IGNORECASE):
        return False  # a start or end phrase, not a keyword
    m = re.search(
        r"\b(?:include|includes|including|contain|containing|contains|use|using|mention|has|have|with)\s+(?:the\s+|these\s+|both\s+)?"
        r"(?:(?P<cue>keywords?|words?|phrase|line|items?|terms?)\b\s*:?|(?=[\"“']))(?P<rest>.*)",
        sentence, re.IGNORECASE,
    )
    if not m:
        return False
    rest = m.group("rest")
    if re.match(r"\s*(?:with|in) all|\s*[^\"“']{0,30}\b(?:capital|times?\b|once|twice)", rest, re.IGNORECASE):
        return False
    words = _listed_words(_trim_tail(rest)) if m.group("cue") else [q for q in quoted(rest[:60])][:1]
    words = [w for w in words if w and len(w.split()) <= 4 and re.search(r"[A-Za-z]{2}", w) and not re.search(r"[*<\[]|\bP\.|section x", w, re.IGNORECASE)]
    if words:
        for w in words:
            found.add("keywords:existence", keywords=[w.lower()])
        return True
    return False


def _language(sentence: str, found: Extraction) -> bool:
    names = {name.lower(): code for code, name in LANGUAGES.items()}
    for name, code in names.items():
        if code == "en" or not re.search(rf"\b{name}\b", sentence, re.IGNORECASE) or re.search(r"translat", sentence, re.IGNORECASE):
            continue
        # the language of the answer, not an adjective ("in Korean", "Korean only"; not "the Korean peninsula")
        if not re.search(rf"(?:\bin|into|using|use|only|entirely)\s+(?:the\s+)?(?:only\s+)?{name}\b|\b{name}\s+(?:language|only)\b|\b{name}\s*,\s*no other", sentence, re.IGNORECASE):
            continue
        if re.search(r"no other language|\bonly\b|entire|respond|response|answer|reply|written|write|\bin\s+" + name, sentence, re.IGNORECASE):
            found.add("language:response_language", language=code)
            return True
    return False


def _formats(sentence: str, found: Extraction, text: str) -> bool:
    s = sentence.lower()
    hit = False
    if "json" in s and re.search(r"format|wrap|block|output|\bin json", s) and not re.search(r"keywords?\s+[^.]*json", s):
        found.add("detectable_format:json_format")
        hit = True
    if "<<" in sentence or "angular bracket" in s:
        found.add("detectable_format:title")
        hit = True
    if re.search(r"double quot|double quotation|in quotes|quotation marks", s) and re.search(r"wrap|around|entire|whole|put", s):
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
    if not re.search(r"highlight|italic", s) or not re.search(r"markdown|\*|italic|section|asterisk", s) or "capital" in s:
        return False
    m = re.search(COUNT + r"\s+(?:[\w-]+\s+){0,2}?(?:sections?|parts?|phrases?|keywords?|words?)", s) or re.search(r"(?P<n>twice)", s)
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
    return _stated_count(sentence, r"\s+placeholders?", "detectable_content:number_placeholders", "num_placeholders", "at least", found)


def _postscript(sentence: str, found: Extraction) -> bool:
    m = re.search(r"\bP\.\s?P\.\s?S\b|\bP\.\s?S\b", sentence)
    if not m or not re.search(r"post ?script|note|\bend\b|add", sentence, re.IGNORECASE):
        return False
    found.add("detectable_content:postscript", postscript_marker="P.P.S" if re.sub(r"\s", "", m.group()).upper().startswith("P.P") else "P.S.")
    return True


def _paragraphs(sentence: str, found: Extraction, text: str) -> bool:
    m = re.search(COUNT + r"[\s-]+paragraphs?\b", sentence, re.IGNORECASE)
    if not m:
        return False
    first = re.search(
        r"(?:(?:the\s+)?(?:very\s+)?(?P<ord>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(?:st|nd|rd|th))\s+paragraph|paragraph\s+(?P<num>\d+))"
        r"\s+(?:must|should|will|to)?\s*(?:start|begin)s?\s+with\s+(?:the\s+)?(?:word\s+)?[\"“'‘]?(?P<word>[\w'-]+)",
        text, re.IGNORECASE,
    ) or re.search(
        r"(?:start|begin)\s+(?:the\s+)?(?:(?P<ord>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(?:st|nd|rd|th))\s+paragraph|paragraph\s+(?P<num>\d+))"
        r"\s+with\s+(?:the\s+word\s+)?[\"“'‘]?(?P<word>[\w'-]+)",
        text, re.IGNORECASE,
    )
    for relation, n in counts(m, "exactly"):
        if first and relation == "exactly":
            word = first.group("ord") or first.group("num")
            nth = n if word.lower() == "last" else ORDINALS.get(word.lower()) or int(re.sub(r"\D", "", word))
            found.add("length_constraints:nth_paragraph_first_word", num_paragraphs=n, nth_paragraph=nth, first_word=first.group("word").lower())
        else:
            separator = "***" if "***" in text or re.search(r"markdown divider|asterisk", text, re.IGNORECASE) else "blank_line"
            found.add("length_constraints:number_paragraphs", num_paragraphs=n,
                      **({} if relation == "exactly" else {"relation": relation}), **({} if separator == "***" else {"separator": separator}))
        return True
    return False


def _end_phrase(text: str, found: Extraction) -> bool:
    m = re.search(
        r"(?:\b(?:end|ends|finish|finishes|conclude)\s+(?:\w+\s+){0,4}?with|very end of (?:\w+\s+){0,3}?(?:should|must) read)\s*(?:exactly\s*)?(?:like\s*)?"
        r"(?:(?:this|the|a)\s+)?(?:exact\s+|EXACT\s+)?(?:phrase|question|sentence|words?)?\s*(?:of\s+)?:?\s*(?P<rest>.+)",
        text, re.IGNORECASE | re.DOTALL,
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
    m = re.search(r"\b(?:start|begin)\s+(?:your|the)\s+(?:entire\s+)?(?:response|answer|reply)\s+with\s+(?:the\s+(?:exact\s+)?(?:phrase|word|sentence)\s+)?[\"“]([^\"”]+)[\"”]", text, re.IGNORECASE)
    if not m:
        return False
    found.add("startend:start_checker", start_phrase=m.group(1).strip())
    return True


def _repeat(text: str, found: Extraction) -> bool:
    m = re.search(r"[^\n]*\brepea?t\w*\b[^\n]*\b(?:request|prompt|sentence|question|text|line|it)\b[^\n]*", text, re.IGNORECASE)
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


def _chinese_length(text: str, found: Extraction) -> bool:
    """字数: "3000-5000字", "不少于2000字", "3000字以上", "2000字以内", "1000字左右" (about: within 20%)."""
    kind, key = "length_constraints:number_characters", "num_characters"
    m = re.search(r"(\d+)\s*(?:-|~|～|–|到|至)\s*(\d+)\s*(?:个)?字", text)
    if m:
        found.add(kind, relation="at least", **{key: int(m.group(1))})
        found.add(kind, relation="at most", **{key: int(m.group(2))})
        return True
    m = re.search(r"(?:不少于|至少|不低于|不得少于)\s*(\d+)\s*(?:个)?字|(\d+)\s*(?:个)?字以上", text)
    if m:
        found.add(kind, relation="at least", **{key: int(m.group(1) or m.group(2))})
        return True
    m = re.search(r"(?:不超过|不多于|少于|不得超过)\s*(\d+)\s*(?:个)?字|(\d+)\s*(?:个)?字(?:以内|以下|之内)", text)
    if m:
        found.add(kind, relation="at most", **{key: int(m.group(1) or m.group(2))})
        return True
    m = re.search(r"(\d+)\s*(?:个)?字(?:左右)?", text)
    if m and re.search(r"字数|篇幅|全文|字左右|\d\s*字的", text):
        n = int(m.group(1))
        found.add(kind, relation="at least", **{key: round(n * 0.8)})
        found.add(kind, relation="at most", **{key: round(n * 1.2)})
        return True
    return False


SENTENCE_RULES = (_lengths, _no_comma, _capital_words, _keyword_frequency, _letter_frequency, _forbidden, _existence, _language, _bullets, _highlights, _placeholders, _postscript)
TEXT_SENTENCE_RULES = (_case, _formats, _sections, _paragraphs)


def extract(instruction: str) -> Extraction:
    """Typed constraint specs stated in the instruction, and the constraint-like sentences
    no rule understood."""
    found = Extraction()
    whole = (_repeat, _end_phrase, _start_phrase, _chinese_length)
    for rule in whole:
        rule(instruction, found)
    for sentence in sentences_of(instruction):
        hit = False
        for rule in SENTENCE_RULES:
            hit |= rule(sentence, found)
        for rule in TEXT_SENTENCE_RULES:
            hit |= rule(sentence, found, instruction)
        if not hit and CONSTRAINT_CUE.search(sentence) and not re.search(r"\brepea?t|\b(?:end|finish)\b", sentence, re.IGNORECASE):
            found.unparsed.append(sentence)
    counted = {s["keyword"] for s in found.specs if s["type"] == "keywords:frequency"}
    found.specs = [s for s in found.specs if not (s["type"] == "keywords:existence" and s["keywords"][0] in counted)]
    if {"change_case:english_lowercase", "change_case:english_capital"} & found.types():
        found.specs = [s for s in found.specs if not (s["type"] == "language:response_language" and s["language"] == "en")]
    return found
