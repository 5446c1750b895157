"""The content-free response guard, applied before any model is called.

Judges say "yes" to responses that contain nothing: a space, a colon, "Thought process:",
"解" ("One Token to Fool LLM-as-a-Judge", arXiv 2507.08794). A list of such keys is easy
to step around, so the guard measures what is left once formatting (Markdown, LaTeX,
HTML), punctuation and reasoning-opener vocabulary in several languages are taken away;
a response with nothing left cannot satisfy a criterion.
"""

from __future__ import annotations

import re
import unicodedata

# Words that open or announce reasoning without saying anything, with the glue words of
# those openers ("Let's solve this problem step by step", "The answer is") and the
# fragments contractions split into ("let", "s").
OPENER_WORDS = frozenset(
    """
    an the this that it is are be here there so now then well okay ok alright sure hmm wait
    s ll d m re ve
    let lets us we i me my our will shall need to of for by in on at and with as into start begin
    thought thoughts thinking think process reasoning reason rationale explanation explain explained
    analysis analyze analyse approach method methods work working calculation calculations calculate
    solve solving solved solution solutions answer answers final result results conclusion problem
    question step steps first firstly next finally response reply output given following below
    respuesta solución solucion paso pasos explicación explicacion razonamiento resolvamos resolver
    vamos problema el la los las por de del es
    réponse reponse étape etape étapes explication raisonnement résolvons resolvons problème probleme
    le les par est
    antwort lösung loesung schritt schritte erklärung erklaerung begründung lass uns das die der ist
    resposta solução solucao passo passos explicação explicacao raciocínio raciocinio
    risposta soluzione spiegazione ragionamento
    ответ решение шаг шаги объяснение рассуждение давайте решим
    정답 풀이 해설 답 단계
    الجواب الحل الإجابة الاجابة خطوة
    उत्तर हल चरण
    """.split()
)
# Openers in scripts written without spaces, removed wherever they occur (longest first).
OPENER_SUBSTRINGS = tuple(
    sorted(
        """
        思考过程 思考過程 解题过程 解題過程 解题思路 解答过程 让我们一步一步 讓我們一步一步 一步一步 让我们 讓我們
        最终答案 最終答案 答案 解答 解析 解说 解說 解 答 步骤 步驟 过程 過程 思路 分析 首先 第一步
        かいせつ 解説 こたえ 答え 回答 ステップ 考え方 まず
        """.split(),
        key=len,
        reverse=True,
    )
)

_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]{0,200}>")
# "Step 3" says nothing; letter/digit boundaries, since \b does not fire after "_" (Markdown).
_STEP_NUMBER = re.compile(
    r"(?<![^\W_])(?:step|paso|étape|etape|schritt|passo|шаг)\s*\d+(?![^\W_])|第\s*\d+\s*[步歩]", re.IGNORECASE
)
_LIST_NUMBER = re.compile(r"(?m)^\s*\d+[.)]\s")
_WORD = re.compile(r"[^\W_]+")


def substantive_words(response: str) -> list[str]:
    """The words of a response that say something: not formatting, punctuation or openers."""
    text = unicodedata.normalize("NFKC", response)
    text = _HTML_TAG.sub(" ", text)
    text = _LATEX_COMMAND.sub(" ", text)  # \boxed{42} keeps 42; \text{Solution} keeps Solution
    text = _STEP_NUMBER.sub(" ", text)
    text = _LIST_NUMBER.sub(" ", text)
    for opener in OPENER_SUBSTRINGS:
        text = text.replace(opener, " ")
    return [w for w in _WORD.findall(text) if w.casefold() not in OPENER_WORDS]


def content_free_reason(response: str, min_content_chars: int = 1) -> str | None:
    """Why the response has no content to judge, or None if it has some."""
    if not response.strip():
        return "empty or whitespace-only response"
    if not any(unicodedata.category(ch)[0] in "LN" for ch in response):
        return "response has no letters or digits (only punctuation, symbols or spacing)"
    if sum(len(w) for w in substantive_words(response)) < min_content_chars:
        return "response has no content beyond formatting, punctuation and reasoning openers"
    return None
