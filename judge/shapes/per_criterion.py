"""The per-criterion shape: one yes/no question per criterion, P(yes) read from the answer
token; a nugget criterion asks two questions whose answers make its three labels
(judge/nuggets.py). Every question of a chunk goes to the backend in one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from judge import nuggets
from judge.aio import ask
from judge.backends.base import Message, YesNoQuestion
from judge.item import JudgeItem, Prepared
from judge.shapes.base import Judge
from rubrics.model import Criterion


class PerCriterion:
    name = "per_criterion"
    nugget_labels = True
    template = None

    def output_tokens(self, criteria: int) -> int:
        return 8  # the answer token and chat-template closings

    def render(
        self, judge: Judge, item: JudgeItem, criteria: Sequence[Criterion], p: Prepared
    ) -> Callable[[str], list[Message]]:
        longest = max(criteria, key=lambda c: len(c.text)).text

        def largest(response: str) -> list[Message]:
            requests = [judge.render(item, response, criterion=longest)]
            if p.nuggets:
                requests.append(
                    judge.render(item, response, template=nuggets.TEMPLATE, criterion=longest, level="part")
                )
            return max(requests, key=lambda messages: sum(len(m["content"]) for m in messages))

        return largest

    def plan(self, judge: Judge, item: JudgeItem, response: str, criteria: Sequence[Criterion], p: Prepared) -> None:
        for criterion in criteria:
            if criterion.id in p.nuggets:

                def render_nugget(template: str, **fields: str) -> list[Message]:
                    return judge.render(item, response, template=template, **fields)

                p.asked.append(
                    (criterion, nuggets.questions(render_nugget, criterion.text, group=f"{item.id}/nuggets"))
                )
            else:
                messages = judge.render(item, response, criterion=criterion.text)
                p.asked.append((criterion, (YesNoQuestion(tuple(messages), judge.template_version, group=item.id),)))

    async def answer(self, judge: Judge, prepared: Sequence[Prepared]) -> None:
        scores = await ask(
            judge.backend, [question for p in prepared for _, questions in p.asked for question in questions]
        )
        position = 0
        for p in prepared:
            for criterion, questions in p.asked:
                answers = scores[position : position + len(questions)]
                position += len(questions)
                if criterion.id in p.nuggets:
                    score, label = nuggets.combine(answers)
                    p.results[criterion.id] = judge.result(criterion, score).model_copy(update={"label": label})
                else:
                    p.results[criterion.id] = judge.result(criterion, answers[0])
