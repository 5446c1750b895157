"""The closed word classes the guard reads sentences with.

Three classes, by language: function words (determiners, pronouns, auxiliaries,
prepositions, conjunctions), the vocabulary of answering itself (verbs of thinking,
planning and explaining; nouns for the task and its parts; discourse markers and manner
adverbs) and answer words (yes, no, negation), which always carry content. Meta-discourse
is matched by Snowball stem, so "analyse", "analyzing" and "analysed" are one entry.
Function words are written out rather than taken from a stop-word package: the packages on
PyPI (stopwords-iso, stop-words) count 1,300 English "stop words", among them computer,
system, world and problem, which would make real answers look empty.

One class is read on criteria, not responses: the words of a question about the response's
surface (quotes, commas, lowercase), which the normalised view must not be asked about.
"""

from __future__ import annotations

from functools import cache, lru_cache

import unicodedata

import snowballstemmer

FUNCTION = {
    "english": """a an the this that these those it its it's itself is are was were be been being am do does did doing have has
        had having will would shall should can could may might must i me my mine myself we us our ours ourselves you your
        yours he him his she her they them their what which who whom whose how why when where whether if so as to of for
        by in on at from with without into onto about over under up down out off than then just also too very really quite
        all each every any some more most many much few fewer several less least such both either neither one ones own
        same other another through before after
        while because since until again further once here there and or but nor yet toward towards s d ll m re ve t""",
    "spanish": """el la los las un una unos unas lo le les de del al a en con sin por para que qué se me te mi mis tu tus su sus es
        son está están esto esta este estos estas eso esa ese y o u pero como cada muy más ya nos yo tú él ella ellos
        nosotros hay ser""",
}
META = {  # matched by stem
    "english": """let lets us allow think thought thinking consider analyze analyse examine review reflect ponder reason
        reasoning understand figure work working solve tackle approach address handle break go walk start started begin
        proceed continue dive delve explore look see check verify evaluate assess determine identify plan outline explain
        explanation describe answer respond response reply clarify summarize get make sure try attempt focus organize
        restate recall note keep mind need want like follow following follows below above step part piece aspect detail
        details point thing things option possibility possibilities method way process solution conclusion result
        analysis overview summary idea problem question task request query prompt issue matter topic case calculate
        calculation carefully thoroughly systematically methodically logically properly deeply closely full fully right
        again first firstly second next final finally last now then okay ok alright well so hmm sure wait here
        process thoughts rationale ask asked time best small smaller""",
    "spanish": """pensar pensemos piensa vamos veamos ver déjame dejame voy analizar analicemos considerar revisar
        reflexionar razonar razonamiento entender resolver resolvamos resolveré abordar empezar comenzar explicar
        explicación respuesta responder solución paso pasos parte partes pregunta problema tarea detalle aspecto forma
        manera sistemática sistemático cuidadosamente cuidado calma primero luego después final finalmente bueno pues
        entonces necesito necesitamos pide pedir lo que escribir aquí""",
}
# Scripts written without spaces: removed wherever they occur, longest first.
META_SUBSTRINGS = """思考过程 思考過程 解题过程 解題過程 解题思路 解答过程 让我们一步一步 讓我們一步一步 一步一步 一步步 让我们 讓我們 让我
    最终答案 最終答案 答案 解答 解析 解说 解說 解 答 步骤 步驟 过程 過程 思路 分析 首先 第一步 接下来 然后 最后 好的 我们 我会
    我将 我 思考 来看看 看看 仔细 这个 这道 问题 理解 题目 要求 需要 解决 解释 推理 先 的 地 吧 了 会 来 是 将
    かいせつ 解説 こたえ 答え 回答 ステップ 考え方 まず""".split()
ANSWER_WORDS = set(
    """yes no not never cannot none nothing nobody true false n't sí oui non ja nein nicht sim não да нет не
    是的 不是 不对 对 错 不 没有 否 はい いいえ 네 아니요 예""".split()
)
# Words that stand for an answer not yet given: "[insert answer here]", "<your answer>", "TBD".
PLACEHOLDER = set(
    "insert your answer here fill in write tbd todo tba placeholder blank respuesta escribir aquí".split()
)

# The earlier guard's vocabulary of openers in other languages (and English ones the
# classes above already hold); kept so no key it stopped gets through.
OPENERS = set(
    """an the this that it is are be here there so now then well okay ok alright sure hmm wait s ll d m re ve let lets
    us we i me my our will shall need to of for by in on at and with as into start begin thought thoughts thinking think
    process reasoning reason rationale explanation explain explained analysis analyze analyse approach method methods work
    working calculation calculations calculate solve solving solved solution solutions answer answers final result results
    conclusion problem question step steps first firstly next finally response reply output given following below
    respuesta solución solucion paso pasos explicación explicacion razonamiento resolvamos resolver vamos problema el la
    los las por de del es réponse reponse étape etape étapes explication raisonnement résolvons resolvons problème
    probleme le les par est antwort lösung loesung schritt schritte erklärung erklaerung begründung lass uns das die der
    ist resposta solução solucao passo passos explicação explicacao raciocínio raciocinio risposta soluzione spiegazione
    ragionamento ответ решение шаг шаги объяснение рассуждение давайте решим 정답 풀이 해설 답 단계 الجواب الحل الإجابة
    الاجابة خطوة उत्तर हल चरण""".split()
)


# Word look-ups are asked for every word of every judged response (megabytes of it, from a
# client): cached, since words repeat, and bounded, since a server runs for days.
_words_cache = lru_cache(maxsize=1 << 16)


@cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


@cache
def _meta_stems() -> frozenset[str]:
    return frozenset(_stemmer(language).stemWord(w) for language, words in META.items() for w in words.split())


@cache
def _function_words() -> frozenset[str]:
    return frozenset(w for words in FUNCTION.values() for w in words.split())


@_words_cache
def is_meta(word: str) -> bool:
    """A word about answering (not a function word), in any inflection the stemmers know."""
    folded = word.casefold()
    if folded in _function_words():
        return False
    return folded in OPENERS or any(_stemmer(language).stemWord(folded) in _meta_stems() for language in META)


@_words_cache
def is_function(word: str) -> bool:
    return word.casefold() in _function_words()


@_words_cache
def is_answer_word(word: str) -> bool:
    return word.casefold() in ANSWER_WORDS


# The normalised view (view.py) reads two more classes. Words of judging: what a response says
# when it grades itself (correct, verified, confident, flawless, pass). Words of the grading
# apparatus: what it names when it talks to its grader (grader, rubric, criterion, reference,
# verdict, instructions, system). Latin-script words match by Snowball stem (English) or by a
# prefix of their accent-free form (other languages); scripts without spaces by substring.
JUDGING = """correct correctly incorrect right accurate accurately accuracy verify verified verification confirm confirmed
    certain certainly certainty confident confidence sure surely definite definitely undoubtedly guarantee guaranteed
    rigorous rigorously flawless flawlessly perfect perfectly impeccable approve approved pass passed passes met meet meets
    satisfy satisfies satisfied satisfactory fulfil fulfill fulfils fulfills valid validated official officially expert
    professional authority authoritative trustworthy trusted reliable excellent great outstanding""".split()
JUDGING_PREFIXES = """correcto correcta corrett correta correct verific verifie verifiz uberpruf geprüft gepruft richtig
    korrekt exact exakt certo certa seguro segura sicher cierto aprob approv valido valida verdadero verdadeiro vrai
    верн правил провер точн""".split()
JUDGING_SUBSTRINGS = "正确 正確 正しい 確認 确认 验证 驗證 無誤 无误 完美 満点 满分 合格 通过".split()
APPARATUS = """grader graders grading grade graded evaluator evaluators evaluation evaluate evaluating assessor assessment
    judge judges judging reviewer examiner marker scorer score scoring scored rubric criterion criteria reference
    verdict instruction instructions system prompt ai assistant model label labels teacher""".split()
APPARATUS_PREFIXES = """evaluador calificador correcteur evaluateur bewert pruf valutator avaliador corrector puntuac
    instrucc instruct anweisung istruzion проверяющ оценщик инструкц систем""".split()
JUDGEMENT_TASKS = "review critique feedback assess evaluate grade rate rating opinion proofread correct judge".split()
APPARATUS_SUBSTRINGS = (
    "评分 評分 采点 採点 评估 評估 评判 評判 裁判 判定 指令 指示 系统 系統 参考答案 參考答案 评委".split()
)
# Words with which a criterion asks about a response's surface (its marks, case, punctuation,
# counts, literal words, where it starts or ends) rather than what it says: the wording of the
# instruction constraints (judge/checks/constraints.py) and of rubrics written like them.
SURFACE = """word words letter letters character characters sentence sentences paragraph paragraphs keyword keywords
    capital capitals capitalized capitalised uppercase lowercase comma commas punctuation quotation quote quotes quoted
    bracket brackets asterisk asterisks bullet bullets markdown heading headings title bold italic highlight highlights
    highlighted section sections placeholder placeholders postscript phrase format formatted json emoji language
    length""".split()


def _plain(word: str) -> str:
    if word.isascii():  # most words: nothing to take off
        return word.casefold()
    return "".join(ch for ch in unicodedata.normalize("NFKD", word.casefold()) if not unicodedata.combining(ch))


@_words_cache
def stem(word: str) -> str:
    """A word's English Snowball stem, without case or accents."""
    return _stemmer("english").stemWord(_plain(word))


@cache
def _stems(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_stemmer("english").stemWord(w) for w in words)


@cache
def _word_class(name: str) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """A class's words, their stems and its plain prefixes, made once (read for every word)."""
    words, prefixes = {"judging": (JUDGING, JUDGING_PREFIXES), "apparatus": (APPARATUS, APPARATUS_PREFIXES)}[name]
    return frozenset(words), _stems(tuple(words)), tuple(_plain(p) for p in prefixes)


def _in_class(word: str, name: str) -> bool:
    words, stems, prefixes = _word_class(name)
    plain = _plain(word)
    return plain in words or stem(plain) in stems or (len(plain) >= 4 and plain.startswith(prefixes))


@_words_cache
def is_judging(word: str) -> bool:
    """A word a response grades itself with: correct, verified, certain, flawless, richtig."""
    return _in_class(word, "judging")


@_words_cache
def is_apparatus(word: str) -> bool:
    """A word naming the grading itself: grader, rubric, criterion, reference, instructions."""
    return _in_class(word, "apparatus")


@_words_cache
def asks_judgement(word: str) -> bool:
    """A word with which a prompt asks for a judgement: review, critique, rate."""
    return stem(word) in _stems(tuple(JUDGEMENT_TASKS))


@_words_cache
def is_surface(word: str) -> bool:
    """A word with which a criterion asks about the response's surface: quotation, commas, lowercase."""
    return stem(word) in _stems(tuple(SURFACE))
