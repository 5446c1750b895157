"""Rubric generators: the one part of rubrics/ that runs models (and so imports judge/).

Generators live under rubrics/ because what they make is rubrics, and a user looks for them
beside the rubric model; everything else in rubrics/ is data and imports nothing of judge/.
contrastive (OpenRubrics CRG), auto_rubric (propose-evaluate-revise, coding-rate core set,
Theme-Tips), nuggets (Search-Gen-V, with retrieval), constraints (ACE-RL, with the
rule-based constraint_extraction); run is the one resumable run loop they share.
"""
