"""Translation: parallel sentence pairs in, a :class:`Seq2Seq` (encoder-decoder with attention) out, scored by
BLEU and chrF on greedy and beam-search decodes against a copy-the-source baseline.

Source and target each get their own tokenizer and vocabulary, fitted on the training pairs only. Training
minimises the masked cross-entropy of the teacher-forced target tokens (``tgt_out`` of
:func:`~rnnkit.data.batching.collate_pairs`, padded with the ignored index). Each evaluation also decodes
``eval_pairs`` validation sentences greedily, so ``val_chrf`` can pick the best model.

BLEU on Korean (and Chinese, Japanese) targets uses sacrebleu's character tokenisation: word-level BLEU
on eojeols misses a whole word for one changed ending. chrF needs no tokenisation; it is the fairer of the
two on small test sets and the one to monitor.

Use::

    rnnkit train tatoeba_eng_kor                      # rnnkit/configs/tatoeba_eng_kor.yaml: English -> Korean
    rnnkit predict runs/tatoeba_eng_kor "I love you." # {"text", "translation", "log_prob"} per sentence
"""

from __future__ import annotations

from rnnkit.tasks.translation.data import (
    DECODE_BATCH,
    TokenizerName,
    TranslationData,
    auto_bleu_tokenize,
    detokenize,
    join_words,
    load_splits,
    split_pairs,
)
from rnnkit.tasks.translation.task import TranslationTask

__all__ = [
    "DECODE_BATCH",
    "TokenizerName",
    "TranslationData",
    "TranslationTask",
    "auto_bleu_tokenize",
    "detokenize",
    "join_words",
    "load_splits",
    "split_pairs",
]
