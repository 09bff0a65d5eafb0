r"""Generation: one-to-many, a text from a class label or from a feature vector (the captioning pattern),
with a :class:`~rnnkit.models.generator.SequenceGenerator` conditioned on either.

Each text is trained as ``<bos> w_1 … w_n <eos>`` with the condition s (a class embedding, or the feature
vector standardized with the training statistics) entering the RNN's initial state or every step::

    loss = mean_t −log p(w_t | w_<t, s)                                      (cross-entropy, nats)

Class conditioning (``data.condition: class``, e.g. NSMC reviews per sentiment) is judged by the
perplexity of each class's test texts, beside a per-class Kneser-Ney n-gram model of the same tokens, and by
the share of texts generated for class c that a classifier assigns to c: a TF-IDF + logistic-regression
judge fitted on the training split, always, and the classification run of ``data.judge`` when given; each
judge's accuracy on the real test texts is reported beside its agreement.

Vector conditioning (``data.condition: vector``, e.g. scikit-learn's 8x8 digits captioned with their digit in
words) is judged by exact match, token accuracy, BLEU and chrF of the decoded test captions, beside the
caption of the nearest training vector and the most frequent caption.

``rnnkit predict RUN 1`` generates texts for class 1 (``--set generation.count=5 --set generation.seed=3``
for more, reproducibly); a vector input is a JSON list or numbers separated by commas; ``LABEL: TEXT``
continues a text.
"""

from __future__ import annotations

from rnnkit.tasks.generation.baseline import KneserNey, most_frequent_caption, nearest_neighbour_captions
from rnnkit.tasks.generation.data import (
    DIGIT_WORDS,
    CaptionExample,
    DecodingOptions,
    GenerationData,
    load_digits_captions,
    load_splits,
    parse_numbers,
)
from rnnkit.tasks.generation.judge import RunJudge, TfidfJudge, agreement
from rnnkit.tasks.generation.task import GenerationTask

__all__ = [
    "DIGIT_WORDS",
    "CaptionExample",
    "DecodingOptions",
    "GenerationData",
    "GenerationTask",
    "KneserNey",
    "RunJudge",
    "TfidfJudge",
    "agreement",
    "load_digits_captions",
    "load_splits",
    "most_frequent_caption",
    "nearest_neighbour_captions",
    "parse_numbers",
]
