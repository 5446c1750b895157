"""Extraction rules for what is counted or said: lengths (words, sentences, 字), case,
capital words, keyword and letter frequencies, required and forbidden words, language."""

from __future__ import annotations

import re

from judge.checks.text import LANGUAGES
from judge.generate.constraint_phrases import (
    COUNT,
    NEGATION,
    NUM,
    QUAL,
    Extraction,
    count_rule,
    counts,
    number_of_rule,
    quoted,
    relation_of,
    to_number,
)


def _lengths(sentence: str, found: Extraction) -> bool:
    hit = count_rule(
        sentence, "words?", "length_constraints:number_words", "num_words", "at least", found
    ) or number_of_rule(sentence, "words", "length_constraints:number_words", "num_words", found)
    hit_s = count_rule(
        sentence, "sentences?", "length_constraints:number_sentences", "num_sentences", "exactly", found
    ) or number_of_rule(sentence, "sentences", "length_constraints:number_sentences", "num_sentences", found)
    if not hit_s and re.search(
        r"\b(?:one|a single)[- ]sentence (?:response|answer|reply)|\bexactly one sentence", sentence, re.IGNORECASE
    ):
        found.add("length_constraints:number_sentences", relation="exactly", num_sentences=1)
        hit_s = True
    return hit or hit_s


def _no_comma(sentence: str, found: Extraction) -> bool:
    if re.search(r"\bcommas?\b", sentence, re.IGNORECASE) and re.search(
        NEGATION + r"|not allowed|\b(?:leave|leaving) out\b|\bomit|\bfree of\b|\bstrip", sentence, re.IGNORECASE
    ):
        found.add("punctuation:no_comma")
        return True
    return False


def _case(sentence: str, found: Extraction, text: str) -> bool:
    s = sentence.lower()
    english = "english" in text.lower() or not re.search(
        r"no other language|\bin (?:only )?(?:the )?[A-Z][a-z]+ language", text
    )
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
    counted = re.search(r"\bwords?\b|\bphrases?\b", s) and re.search(
        NUM + r"\b|once|twice|\bsome\b|\ba few\b|\bfew\b", s
    )
    if re.search(r"capital|caps\b|upper ?case", s) and not counted:
        if re.search(
            r"all capital|all caps|in capital letters|only (?:use )?capital|capitali[sz]e all|all (?:of the )?letters .*capitali[sz]ed|no lower ?case|upper ?case",
            s,
        ):
            found.add("change_case:english_capital" if english else "change_case:capital")
            return True
    return False


def _capital_words(sentence: str, found: Extraction) -> bool:
    s = sentence.lower()
    if not re.search(r"capital letters|all caps|all-caps|capitali[sz]ed|uppercase", s) or not re.search(
        r"\bwords?\b|\bphrases?\b", s
    ):
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
    forbidden = re.search(
        rf"(?:without (?:using )?|not (?:include|contain|use)|don't (?:include|contain|use)|avoid (?:using )?|no )(?:the |any )?letter\s+{letter}(?!\s+(?:more|at most))",
        sentence,
        re.IGNORECASE,
    )
    if forbidden:
        found.add(
            "keywords:letter_frequency",
            letter=forbidden.group("letter").lower(),
            let_relation="less than",
            let_frequency=1,
        )
        return True
    avoid_more = re.search(
        rf"avoid (?:using )?the letter\s+{letter}\s+more than\s+(?P<n>{NUM}|once|twice)", sentence, re.IGNORECASE
    )
    if avoid_more:
        n = {"once": 1, "twice": 2}.get(avoid_more.group("n").lower()) or to_number(avoid_more.group("n"))
        found.add(
            "keywords:letter_frequency",
            letter=avoid_more.group("letter").lower(),
            let_relation="at most",
            let_frequency=n,
        )
        return True
    for m in re.finditer(
        rf"\bletter\s+{letter}\s+(?:(?:should|must|to|will)\s+)?(?:\w+\s+){{0,2}}?{TIMES}", sentence, re.IGNORECASE
    ):
        for relation, n in _times(m):
            found.add(
                "keywords:letter_frequency", letter=m.group("letter").lower(), let_relation=relation, let_frequency=n
            )
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
    return re.split(
        r"\b(?:in|throughout|anywhere|somewhere|at least|each time)\b(?: (?:your|the|this|my))?|\s+(?:should|must)\b",
        text,
        maxsplit=1,
    )[0]


def _forbidden(sentence: str, found: Extraction) -> bool:
    m = re.search(
        r"(?:do not|don't|doesn't|does not|not to|must not|should not|\bnot|never|without|avoid|exclude|refrain from)\s+(?P<verb>\w+ing\s+|use\s+|include\s+|mention\s+|say\s+|contain\s+|add\s+|write\s+|type\s+|print\s+)?"
        r"(?:any\s+)?(?:of\s+)?(?:the\s+)?(?:following\s+)?(?:negative\s+)?(?:(?P<cue>keywords?|words?)\b(?:\s+such as)?)?(?P<rest>.*)",
        sentence,
        re.IGNORECASE,
    )
    if not m:
        m2 = re.search(
            r"\b(?:word|words|keywords?)\s+(?P<rest>.+?)\s+(?:should not|must not|cannot|can not|shouldn't|doesn't|does not|do not|may not)\s+(?:appear|be (?:in|used|included))",
            sentence,
            re.IGNORECASE,
        )
        if not m2:
            return False
        words = _listed_words(m2.group("rest"))
    else:
        rest = m.group("rest")
        if re.match(r"\s*(?:any\s+)?(?:commas?|capital|letters?|the letter|lowercase)", rest, re.IGNORECASE):
            return False
        if m.group("cue"):
            words = _listed_words(_trim_tail(rest))
        elif (m.group("verb") or "").strip().lower() in {"mention", "mentioning", "say", "saying"} and not re.match(
            r"\s*(?:any|anything|that|it|this|the)\b", rest, re.IGNORECASE
        ):
            words = _listed_words(_trim_tail(rest))
        else:
            words = [q for q in quoted(rest[:80]) if len(q.split()) <= 3] if re.match(r"\s*[\"“'‘]", rest) else []
    words = [
        w
        for w in words
        if len(w.strip()) > 1 and len(w.split()) <= 3 and not re.search(r"comma|capital", w, re.IGNORECASE)
    ]
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
        sentence,
        re.IGNORECASE,
    )
    if not m:  # "Make sure the word lantern appears"
        named = re.search(
            r"\bthe (?:key)?(?:word|term|phrase)\s+(?P<word>[\"“'‘][^\"”'’]+[\"”'’]|[\w'-]+)\s+"
            r"(?:(?:should|must|will|does|do)\s+)?(?:appears?|shows? up|occurs?|is used|is included|be (?:used|included))\b"
            r"(?!\s+(?:at least|at most|exactly|once|twice|\w+ times))",
            sentence,
            re.IGNORECASE,
        )
        if not named:
            return False
        found.add("keywords:existence", keywords=[named.group("word").strip("\"“”'‘’").lower()])
        return True
    rest = m.group("rest")
    if re.match(r"\s*(?:with|in) all|\s*[^\"“']{0,30}\b(?:capital|times?\b|once|twice)", rest, re.IGNORECASE):
        return False
    words = _listed_words(_trim_tail(rest)) if m.group("cue") else [q for q in quoted(rest[:60])][:1]
    words = [
        w
        for w in words
        if w
        and len(w.split()) <= 4
        and re.search(r"[A-Za-z]{2}", w)
        and not re.search(r"[*<\[]|\bP\.|section x", w, re.IGNORECASE)
    ]
    if words:
        for w in words:
            found.add("keywords:existence", keywords=[w.lower()])
        return True
    return False


def _language(sentence: str, found: Extraction) -> bool:
    names = {name.lower(): code for code, name in LANGUAGES.items()}
    for name, code in names.items():
        if (
            code == "en"
            or not re.search(rf"\b{name}\b", sentence, re.IGNORECASE)
            or re.search(r"translat", sentence, re.IGNORECASE)
        ):
            continue
        # the language of the answer, not an adjective ("in Korean", "Korean only"; not "the Korean peninsula")
        if not re.search(
            rf"(?:\bin|into|using|use|only|entirely)\s+(?:the\s+)?(?:only\s+)?{name}\b|\b{name}\s+(?:language|only)\b|\b{name}\s*,\s*no other",
            sentence,
            re.IGNORECASE,
        ):
            continue
        if re.search(
            r"no other language|\bonly\b|entire|respond|response|answer|reply|written|write|\bin\s+" + name,
            sentence,
            re.IGNORECASE,
        ):
            found.add("language:response_language", language=code)
            return True
    return False


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


# in the order the extractor applies them (constraint_extraction.extract)
SENTENCE_RULES = (
    _lengths,
    _no_comma,
    _capital_words,
    _keyword_frequency,
    _letter_frequency,
    _forbidden,
    _existence,
    _language,
)
TEXT_SENTENCE_RULES = (_case,)
WHOLE_TEXT_RULES = (_chinese_length,)
