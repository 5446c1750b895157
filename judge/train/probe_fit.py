"""Fitting a probe (judge/backends/probe.py): logistic regression on a frozen local model's
hidden state at the answer position.

The layer and the regularisation are chosen by cross-validated AUROC with folds split by
item (a response's criteria never sit on both sides); the standardisation is folded into
the weights so that the file holds one weight per hidden unit and a bias.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from judge.backends.base import YesNoQuestion
from judge.backends.hidden_states import answer_states, layer_count
from judge.backends.probe import Probe
from judge.extras import module
from judge.train.examples import Example, split_by_item

REGULARISATION = (0.01, 0.1, 1.0)  # scikit-learn's C: smaller is stronger


def candidate_layers(layers: int) -> list[int]:
    """Middle to last: where linear probes of "is this true" tend to read best."""
    picks = {layers // 2, (2 * layers) // 3, (5 * layers) // 6, -1}
    return sorted(picks, key=lambda layer: layer if layer >= 0 else layers)


@dataclass(frozen=True)
class ProbeChoice:
    layer: int
    c: float
    auroc: float | None  # cross-validated, by item
    table: dict[str, float | None]  # "layer/C" -> cross-validated AUROC


def _auroc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    metrics = module("train", "sklearn.metrics")
    return float(metrics.roc_auc_score(labels, scores)) if 0 < sum(labels) < len(labels) else None


def _model(c: float, seed: int) -> Any:
    linear = module("train", "sklearn.linear_model")
    pipeline, preprocessing = module("train", "sklearn.pipeline"), module("train", "sklearn.preprocessing")
    return pipeline.make_pipeline(
        preprocessing.StandardScaler(), linear.LogisticRegression(C=c, max_iter=2000, random_state=seed)
    )


def choose(features: dict[int, Any], examples: Sequence[Example], folds: int, seed: int) -> ProbeChoice:
    """The layer and C with the best cross-validated AUROC (the last candidate on ties)."""
    import numpy as np

    labels = np.array([e.label for e in examples])
    fold_of = np.array(split_by_item(examples, folds))
    table: dict[str, float | None] = {}
    best: tuple[float, int, float] | None = None
    for layer, x in features.items():
        for c in REGULARISATION:
            scores = np.zeros(len(examples))
            for fold in range(folds):
                test = fold_of == fold
                train = ~test
                if not test.any() or len(set(labels[train])) < 2:
                    continue
                scores[test] = _model(c, seed).fit(x[train], labels[train]).predict_proba(x[test])[:, 1]
            auroc = _auroc(labels.tolist(), scores.tolist())
            table[f"{layer}/{c}"] = auroc
            if auroc is not None and (best is None or auroc >= best[0]):
                best = (auroc, layer, c)
    if best is None:
        layer, c, auroc = next(iter(features)), 1.0, None
    else:
        auroc, layer, c = best
    return ProbeChoice(layer, c, auroc, table)


def fit_probe(
    backend: Any,
    examples: Sequence[Example],
    *,
    layers: Sequence[int] | None = None,
    folds: int = 5,
    seed: int = 0,
    progress: bool | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> tuple[Probe, ProbeChoice]:
    """Hidden states of every example at the candidate layers, the choice, the final fit."""
    import numpy as np

    if len({e.label for e in examples}) < 2:
        raise ValueError("a probe needs examples of both labels (met and not met)")
    layers = list(layers) if layers else candidate_layers(layer_count(backend.model))
    say(f"reading hidden states of {len(examples)} examples at layers {', '.join(map(str, layers))}")
    questions = [YesNoQuestion(e.messages) for e in examples]
    features = {layer: states.numpy() for layer, states in answer_states(backend, questions, layers, progress).items()}
    choice = choose(features, examples, folds, seed)
    say(f"chose layer {choice.layer}, C={choice.c} (cross-validated AUROC by item {choice.auroc})")
    labels = np.array([e.label for e in examples])
    fitted = _model(choice.c, seed).fit(features[choice.layer], labels)
    scaler, regression = fitted[0], fitted[1]
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    weights = regression.coef_[0] / scale
    bias = float(regression.intercept_[0] - (regression.coef_[0] * scaler.mean_ / scale).sum())
    probe = Probe(
        layer=choice.layer,
        weights=tuple(float(w) for w in weights),
        bias=bias,
        base=backend.identity(),
        training={"cv_auroc": choice.auroc, "c": choice.c, "layers": choice.table},
    )
    return probe, choice
