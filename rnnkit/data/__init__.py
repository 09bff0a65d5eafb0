"""Data: everything between a file and a batch.

reading.py, loaders_*.py   files -> records (TextExample, TaggedSentence, TextPair, SeriesExample,
                           TimeSeries: records.py); errors name file:line
catalog.py, download.py    the named datasets (``rnnkit data list``): URL + sha256 + cache, offline-safe
splits.py                  train / validation / test: the one function that holds out what is missing
tokenizers.py, vocab.py    text -> tokens -> ids (NFC-normalised, Korean-safe); JSON, never pickle
batching.py                padding, length buckets, collate functions, moving a batch to a device
chatterbot.py, synthetic.py  the installed offline corpus and generated toy problems
"""
