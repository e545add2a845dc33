"""SageMaker's BlazingText in supervised mode — a text classifier on scikit-learn, not fastText.

The interface is BlazingText's: ``mode=supervised`` (the Word2Vec modes are
refused), the channels ``train`` and optional ``validation`` of lines
``__label__<class> some tokenized text``, the hyperparameters ``epochs``,
``learning_rate``, ``word_ngrams``, ``min_count``, ``buckets``,
``early_stopping``/``patience``/``min_epochs``, the metric
``validation:accuracy``, and the response
``[{"label": ["__label__1"], "prob": [0.93]}]`` for
``{"instances": ["some text"], "configuration": {"k": 1}}``.

The model is not fastText's: words seen fewer than ``min_count`` times are
dropped, word n-grams up to ``word_ngrams`` are hashed into
``min(buckets, 2**20)`` features (scikit-learn's HashingVectorizer), and a
linear softmax-like classifier (``SGDClassifier`` with log loss, one-vs-rest) is
trained for ``epochs`` passes at the constant ``learning_rate``. There are no
learned word vectors: ``vector_dim`` is accepted and has no effect. A line with
several labels trains on its first. Saved with joblib (``model.joblib``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crispml.services.training.algorithms.base import NUMBER, Algorithm, Hyperparameter, emit, respond
from crispml.services.training.errors import ValidationException

H = Hyperparameter
MODEL_FILE = "model.joblib"
PREFIX = "__label__"


class BlazingText(Algorithm):
    name = "blazingtext"
    doc = "Supervised text classification with BlazingText's interface on scikit-learn (not fastText)."
    hyperparameters = (
        H("mode", "enum", choices=("supervised", "batch_skipgram", "skipgram", "cbow"),
          doc="Only supervised is implemented."),
        H("epochs", "int", 5, 1),
        H("learning_rate", "float", 0.05, 0, min_open=True),
        H("word_ngrams", "int", 2, 1),
        H("min_count", "int", 5, 0),
        H("buckets", "int", 2_000_000, 1, doc="Hash buckets for word n-grams (at most 2**20 used here)."),
        H("vector_dim", "int", 100, 1, doc="Accepted; no word vectors are learned here."),
        H("early_stopping", "bool", False, doc="Stop when validation accuracy stalls (needs a validation channel)."),
        H("patience", "int", 4, 1),
        H("min_epochs", "int", 5, 1),
    )
    metric_definitions = (("train:accuracy", rf"#train_accuracy: {NUMBER}"),
                          ("validation:accuracy", rf"#validation_accuracy: {NUMBER}"))
    content_types = frozenset({"text/plain"})
    default_content_type = "text/plain"
    libraries = ("numpy", "sklearn.linear_model", "sklearn.feature_extraction.text", "joblib")
    inference_content_types = frozenset({"application/json", "application/jsonlines"})
    answers_arrays = False  # its requests are texts

    def validate(self, hyperparameters: dict[str, str]) -> dict[str, Any]:
        # The mode first: a Word2Vec job's own hyperparameters (window_size, …) would otherwise be "unknown".
        mode = str(hyperparameters.get("mode", "supervised")).strip()
        if mode in ("batch_skipgram", "skipgram", "cbow"):
            raise ValidationException(f"blazingtext mode {mode} (Word2Vec) is not supported here; "
                                      "only mode=supervised (text classification)")
        return super().validate(hyperparameters)

    def train(self, layout: Any, hyperparameters: dict[str, Any]) -> None:
        import joblib
        import numpy as np
        from sklearn.linear_model import SGDClassifier

        hp = hyperparameters
        texts, labels = read_lines(layout.channel_dir("train"), "train")
        classes = sorted(set(labels))
        if len(classes) < 2:
            from crispml.services.training.algorithms.data import DataError

            raise DataError(f"channel 'train' has one label ({classes[0]}); a classifier needs at least two")
        counts: dict[str, int] = {}
        for text in texts:
            for word in text.split():
                counts[word] = counts.get(word, 0) + 1
        vocabulary = sorted(w for w, c in counts.items() if c >= hp["min_count"])
        model: dict[str, Any] = {"classes": classes, "vocabulary": vocabulary, "word_ngrams": hp["word_ngrams"],
                                 "features": min(hp["buckets"], 2**20)}
        X, y = _vectorize(model, texts), np.array([classes.index(label) for label in labels])
        validation = None
        if hp["early_stopping"] and not self.channel_present(layout, "validation"):
            from crispml.services.training.algorithms.data import DataError

            raise DataError("early_stopping needs a validation channel")
        if self.channel_present(layout, "validation"):
            vtexts, vlabels = read_lines(layout.channel_dir("validation"), "validation")
            known = [i for i, label in enumerate(vlabels) if label in classes]
            validation = (_vectorize(model, [vtexts[i] for i in known]),
                          np.array([classes.index(vlabels[i]) for i in known]))
        estimator = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=hp["learning_rate"],
                                  alpha=1e-6, random_state=0)
        model["estimator"] = estimator
        rng = np.random.default_rng(0)
        best, stale = -1.0, 0
        for epoch in range(hp["epochs"]):
            order = rng.permutation(X.shape[0])
            estimator.partial_fit(X[order], y[order], classes=np.arange(len(classes)))
            emit(f"Epoch {epoch + 1}: #train_accuracy: {float((estimator.predict(X) == y).mean()):.4f}")
            if validation is not None:
                accuracy = float((estimator.predict(validation[0]) == validation[1]).mean())
                emit(f"Epoch {epoch + 1}: #validation_accuracy: {accuracy:.4f}")
                if accuracy > best:
                    best, stale = accuracy, 0
                else:
                    stale += 1
                if hp["early_stopping"] and epoch + 1 >= hp["min_epochs"] and stale >= hp["patience"]:
                    emit(f"Early stopping: validation accuracy did not improve in {stale} epochs")
                    break
        layout.model_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, layout.model_dir / MODEL_FILE)

    def load(self, model_dir: Path) -> Any:
        import joblib

        return joblib.load(Path(model_dir) / MODEL_FILE)

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        import json

        import numpy as np

        kind = self.check_request(content_type, accept, ("application/json", "application/jsonlines"))
        try:
            if content_type.lower().startswith("application/jsonlines"):
                records = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                texts, k = [r["source"] for r in records], 1
            else:
                payload = json.loads(body)
                texts, k = payload["instances"], int(payload.get("configuration", {}).get("k", 1))
            if not all(isinstance(t, str) for t in texts):
                raise ValueError("instances must be strings")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValidationException('cannot read the request; expected {"instances": ["text", ...], '
                                      f'"configuration": {{"k": 1}}}} ({exc})') from None
        probabilities = model["estimator"].predict_proba(_vectorize(model, texts))
        k = max(1, min(k, len(model["classes"])))
        rows = []
        for p in probabilities:
            top = np.argsort(-p)[:k]
            rows.append({"label": [PREFIX + model["classes"][i] for i in top], "prob": [float(p[i]) for i in top]})
        return respond(rows, kind, None)


def read_lines(folder: Path, channel: str) -> tuple[list[str], list[str]]:
    """Texts and labels of ``__label__X some text`` lines."""
    from crispml.services.training.algorithms.data import DataError, files

    texts, labels = [], []
    for path in files(folder):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            words = line.split()
            if not words:
                continue
            found = [w for w in words if w.startswith(PREFIX)]
            if not found or not words[0].startswith(PREFIX):
                raise DataError(f"channel '{channel}': {path.name} line {number} does not start with "
                                f"{PREFIX}<class> (lines are '__label__<class> some text')")
            labels.append(found[0][len(PREFIX):])
            texts.append(" ".join(w for w in words if not w.startswith(PREFIX)))
    if not texts:
        raise DataError(f"channel '{channel}' has no data")
    return texts, labels


def _vectorize(model: dict[str, Any], texts: list[str]) -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    known = set(model["vocabulary"])
    kept = [" ".join(w for w in text.split() if w in known) for text in texts]
    vectorizer = HashingVectorizer(n_features=model["features"], ngram_range=(1, model["word_ngrams"]),
                                   token_pattern=r"\S+", lowercase=False, alternate_sign=False)
    return vectorizer.transform(kept)
