"""Models, one file per sequence shape; each returns predictions, never a loss.

| shape                      | model                  | config            |
|----------------------------|------------------------|-------------------|
| many-to-one                | SequenceClassifier     | ClassifierConfig  |
| many-to-many, aligned      | SequenceTagger         | TaggerConfig      |
| window in, horizon out     | Forecaster             | ForecasterConfig  |
| one-to-many (LM)           | SequenceGenerator      | GeneratorConfig   |
| many-to-many, seq to seq   | Seq2Seq                | Seq2SeqConfig     |

Each is built from its config, saved with :func:`save_model` and rebuilt with :func:`load_model`.
"""

from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.decoding import Decoded, beam_search, greedy_decode, sample_decode
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.generator import GeneratorConfig, SequenceGenerator
from rnnkit.models.io import MODELS, load_model, register_model, save_model
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

__all__ = [
    "MODELS",
    "ClassifierConfig",
    "Decoded",
    "Forecaster",
    "ForecasterConfig",
    "GeneratorConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceGenerator",
    "SequenceTagger",
    "TaggerConfig",
    "beam_search",
    "greedy_decode",
    "load_model",
    "register_model",
    "sample_decode",
    "save_model",
]
