"""Language modelling: plain text in, a :class:`SequenceGenerator` out, with validation loss, perplexity,
bits per character, a unigram baseline and generated text.

The text is cut, never shuffled, into three contiguous parts (char-rnn, nanoGPT), by characters::

    |------------------------ train (90%) ------------------------|-- val (5%) --|-- test (5%) --|

Training reads chunks of ``bptt + 1`` tokens of the training part, at random starts drawn afresh every
epoch (``chunks="random"``) or every ``stride`` tokens in a shuffled order (``chunks="strided"``). Each
chunk starts from the zero state and is trained on next-token prediction::

    inputs = ids[s : s + bptt]      targets = ids[s + 1 : s + bptt + 1]
    loss   = mean_t −log p(targets_t | inputs_≤t)                           (cross-entropy, nats)

Evaluation scores every token of the validation (test) text but the first (up to ``eval_max_tokens``),
exactly once: the text is cut into ``B = train.batch_size`` contiguous streams, read ``bptt`` tokens at a
time with the recurrent state carried from window to window (the stateful evaluation of the PTB models),
so each token has the whole past of its stream as context. With NLL the summed negative log-likelihood
of the N scored tokens::

    val_loss = NLL / N      perplexity = exp(NLL / N)      bits per character = NLL / (N ln 2)  (char tokens)

The unigram baseline predicts every token by its training frequency p(c); on the training text it costs
H = −Σ_c p(c) log₂ p(c) bits per token, the number a model that learnt anything must beat.
"""

from __future__ import annotations

from rnnkit.tasks.language_model.baseline import unigram_bits
from rnnkit.tasks.language_model.batches import ChunkSampler, collate_chunks, score_streams, stream_batches
from rnnkit.tasks.language_model.data import (
    GenerationOptions,
    LanguageModelData,
    load_text_splits,
    split_contiguous,
)
from rnnkit.tasks.language_model.task import LanguageModelTask

__all__ = [
    "ChunkSampler",
    "GenerationOptions",
    "LanguageModelData",
    "LanguageModelTask",
    "collate_chunks",
    "load_text_splits",
    "score_streams",
    "split_contiguous",
    "stream_batches",
    "unigram_bits",
]
