"""Rubric generators: an app beside eval, audit and rl, standing on the engine and file runs.

They make rubrics (rubrics/, the data every layer reads) by running models, so they live in
judge/, above the engine they call; rubrics/ stays data and imports nothing of judge/.
contrastive (OpenRubrics CRG), auto_rubric (propose-evaluate-revise, coding-rate core set,
Theme-Tips), nuggets (Search-Gen-V, with retrieval), constraints (ACE-RL, with the
rule-based constraint_extraction); run is the one resumable run loop they share.
"""

# What records these apps read may be tables and datasets too: the reader of `rubric judge`
# registers itself with rubrics.records when imported (judge/runs/sources.py).
import judge.runs.sources  # noqa: E402, F401
