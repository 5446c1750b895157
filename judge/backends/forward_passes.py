"""Planning forward passes: which questions share a prefix, how to batch the rest, and
which cached prefix to reuse across calls."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix that all sequences share."""
    first, length = sequences[0], min(len(s) for s in sequences)
    for position in range(length):
        token = first[position]
        if any(s[position] != token for s in sequences[1:]):
            return position
    return length


@dataclass(frozen=True)
class SharedGroup:
    indices: list[int]  # positions of the questions in the call
    prefix_length: int  # tokens computed once for the whole group


def plan_sharing(
    groups: Sequence[Hashable | None], sequences: Sequence[Sequence[int]], min_prefix: int
) -> tuple[list[SharedGroup], list[int]]:
    """Split questions into shared-prefix groups and the rest (plain batching).

    A group is shared when it has two or more questions whose common prefix is at least
    min_prefix tokens; every suffix keeps one token at least, where its answer is read.
    """
    by_group: dict[Hashable, list[int]] = defaultdict(list)
    plain: list[int] = []
    for index, group in enumerate(groups):
        (plain if group is None else by_group[group]).append(index)
    shared: list[SharedGroup] = []
    for indices in by_group.values():
        members = [sequences[i] for i in indices]
        length = min(common_prefix_length(members), min(len(m) for m in members) - 1) if len(indices) > 1 else 0
        if len(indices) > 1 and length >= min_prefix:
            shared.append(SharedGroup(indices, length))
        else:
            plain.extend(indices)
    return shared, sorted(plain)


def plan_batches(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int) -> list[list[int]]:
    """Group indices of similar length so that rows x longest row stays within budget."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[index]  # sorted, so the newest is the longest
        if current and (len(current) >= max_batch_size or longest * (len(current) + 1) > max_batch_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class InstructionCache:
    """The key/value cache of the token prefix that consecutive responses' prompts share,
    kept between calls: the judge instructions, and the item's prompt too while consecutive
    items answer the same one (a GRPO group: its completions share the prompt).

    It learns that prefix by itself: the common start of the last two response prefixes.
    When the next two share more (the same prompt again), the held prefix grows by what they
    add; when the next one shares less (another prompt, the same instructions), it is cut
    back to what they share, with no recomputing of the instructions.
    """

    def __init__(self, min_length: int):
        self.min_length = min_length
        self.ids: list[int] = []
        self.cache: Any = None
        self._previous: list[int] = []

    def reusable(
        self, prefix: list[int], compute: Callable[[list[int], Any], Any], crop: Callable[[Any, int], Any]
    ) -> tuple[int, Any]:
        """(tokens covered, a private copy of their cache) for this response prefix; (0, None)
        if none. ``compute(ids, past)`` continues a cache (or starts one, past None) over ids;
        ``crop(cache, length)`` cuts a cache back to its first length tokens."""
        previous, self._previous = self._previous, prefix
        held = len(self.ids) if self.ids and prefix[: len(self.ids)] == self.ids else 0
        shared = common_prefix_length([prefix, previous]) if previous else 0
        if shared >= self.min_length and shared > held:
            if held:  # the same start and more: grow the held prefix by what this pair adds
                self.cache = compute(prefix[held:shared], copy.deepcopy(self.cache))
            elif self.ids and self.ids[:shared] == prefix[:shared]:  # less of it: cut back
                self.cache = crop(copy.deepcopy(self.cache), shared)
            else:
                self.cache = compute(prefix[:shared], None)
            self.ids, held = prefix[:shared], shared
        return (held, copy.deepcopy(self.cache)) if held else (0, None)
