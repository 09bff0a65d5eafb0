"""Generation: the test report (pure: it returns the results) and the samples it writes (``samples.txt``).

Class conditioning: perplexity per class on the test texts beside a per-class Kneser-Ney bigram (and
trigram) on the same tokens; ``samples_per_class`` texts generated per class, judged by the TF-IDF judge
(and the run of ``data.judge``), with the judges' accuracy on the real test texts and their agreement on
as many bigram samples for context. Vector conditioning: test captions decoded and scored (exact match,
token accuracy, BLEU, chrF) beside the nearest training vector's caption and the most frequent caption.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.config import atomic_write_text
from rnnkit.data.batching import move_to_device
from rnnkit.metrics import perplexity
from rnnkit.tasks.generation.baseline import KneserNey, most_frequent_caption, nearest_neighbour_captions
from rnnkit.tasks.generation.judge import TfidfJudge, agreement
from rnnkit.tasks.generation.scores import caption_scores, perplexity_by_class, score_texts

SHOWN = 5  # samples per class (or test captions) kept in results["samples"] beside the full list


class ReportMethods:
    """The ``report`` and ``write_artifacts`` of :class:`~rnnkit.tasks.generation.GenerationTask`."""

    def report(self, model: nn.Module) -> dict[str, Any]:
        model.eval()
        splits = self.examples()
        device = next(model.parameters()).device
        nlls, counts, classes = score_texts(model, self.ordered_batches(splits["test"]), device)
        results: dict[str, Any] = {
            "test_loss": sum(nlls) / sum(counts),
            "test_perplexity": perplexity(sum(nlls), sum(counts)),
        }
        sizes = {split: len(examples) for split, examples in splits.items()}
        sizes["vocab"] = len(self.vocab)
        if self.mode == "class":
            results.update(self.class_report(model, nlls, counts, classes))
        else:
            results.update(self.caption_report(model))
        g = self.data.generation
        results["generation"] = {"strategy": g.resolved(self.mode), "temperature": g.temperature,
                                 "top_k": g.top_k, "seed": g.seed}  # fmt: skip
        results["sizes"] = sizes
        return results

    # ----- class conditioning -------------------------------------------------------------------------
    def class_report(self, model: nn.Module, nlls: list[float], counts: list[int], classes: list[int]
                     ) -> dict[str, Any]:  # fmt: skip
        splits, labels, g = self.examples(), self.labels, self.data.generation
        per_class = perplexity_by_class(nlls, counts, classes, labels)
        ngrams = {name: self.ngram_baseline(order) for order, name in ((2, "bigram"), (3, "trigram"))}
        for label in labels:
            per_class[label]["baseline_perplexity"] = ngrams["bigram"]["per_class"][label]
        # texts per class: the model's, and the bigram's (same temperature and top-k), for the judges
        device = next(model.parameters()).device
        texts: dict[str, list[tuple[str, str]]] = {"generated": [], "bigram": []}
        for k, label in enumerate(labels):
            rows = self.decode(model, **self.condition_tensors(k, g.samples_per_class, device))
            drawn = ngrams["bigram"]["models"][label].sample(g.samples_per_class, g.max_new_tokens,
                                                             g.temperature, g.top_k, g.seed + k)  # fmt: skip
            texts["generated"] += [(label, self.text_of(ids)) for ids in rows]
            texts["bigram"] += [(label, self.text_of(ids)) for ids in drawn]
        texts["real"] = [(e.label, e.text) for e in splits["test"]]
        judges = {"tfidf": TfidfJudge([e.text for e in splits["train"]], [e.label for e in splits["train"]])}
        if self.run_judge() is not None:
            judges["run"] = self.run_judge()
        judged, samples = {}, [{"label": y, "text": t} for y, t in texts["generated"]]
        for key, judge in judges.items():
            verdicts = {name: judge.classify([t for _, t in pairs]) for name, pairs in texts.items()}
            shares = {
                name: agreement([y for y, _ in pairs], verdicts[name], labels)
                for name, pairs in texts.items()
            }
            judged[key] = {
                "name": judge.name,
                "agreement": shares["generated"]["all"],
                "bigram_agreement": shares["bigram"]["all"],
                "real_test_accuracy": shares["real"]["all"],
                "per_class": shares["generated"]["per_class"],
            }
            for label in labels:
                per_class[label][f"{key}_judge_agreement"] = shares["generated"]["per_class"][label]
            for sample, verdict in zip(samples, verdicts["generated"]):
                sample[f"{key}_judge"] = verdict
        for ngram in ngrams.values():
            del ngram["models"]
        out = {
            "test_judge_agreement": judged["tfidf"]["agreement"],
            "test_judge_real_accuracy": judged["tfidf"]["real_test_accuracy"],
            "per_class": per_class,
            "baseline": {**ngrams["bigram"], "judge_agreement": judged["tfidf"]["bigram_agreement"]},
            "baselines": ngrams,  # printed by `rnnkit train`; "baseline" is the bigram
            "judges": judged,
            "samples": [s for label in labels for s in [s for s in samples if s["label"] == label][:SHOWN]],
            "generated": samples,
            "bigram_samples": [{"label": y, "text": t} for y, t in texts["bigram"][:: g.samples_per_class]],
        }
        if "run" in judged:
            out["test_run_judge_agreement"] = judged["run"]["agreement"]
            out["test_run_judge_real_accuracy"] = judged["run"]["real_test_accuracy"]
        return out

    def ngram_baseline(self, order: int) -> dict[str, Any]:
        """Per-class Kneser-Ney n-grams fitted on the training texts (``"models"``) and their perplexity on
        the test texts, overall and per class."""
        splits, labels, name = (
            self.examples(),
            self.labels,
            {2: "bigram", 3: "trigram"}.get(order, f"{order}-gram"),
        )
        models, per_class, total, tokens = {}, {}, 0.0, 0
        for label in labels:
            train = [self.ids(e.text) for e in splits["train"] if e.label == label]
            models[label] = KneserNey(train, len(self.vocab), order)
            scored = [models[label].nll(self.ids(e.text)) for e in splits["test"] if e.label == label]
            nll, count = sum(n for n, _ in scored), sum(c for _, c in scored)
            per_class[label] = perplexity(nll, count) if count else None
            total, tokens = total + nll, tokens + count
        return {
            "name": f"per-class interpolated Kneser-Ney {name} (D = 0.75), the same tokens",
            "test_perplexity": perplexity(total, tokens),
            "per_class": per_class,
            "models": models,
        }

    # ----- vector conditioning ------------------------------------------------------------------------
    def caption_report(self, model: nn.Module) -> dict[str, Any]:
        splits, device, tok = self.examples(), next(model.parameters()).device, self.tokenizer
        test, train = splits["test"], splits["train"]
        guesses = []
        for batch in self.ordered_batches(test):
            guesses += self.decode(model, condition=move_to_device(batch, device)["condition"])
        hyp_tokens = [self.vocab.decode(ids) for ids in guesses]
        ref_tokens = [self.tokens(e.text) for e in test]
        bleu_tokenize = "char" if self.data.tokenizer == "char" else "intl"
        scores = caption_scores(hyp_tokens, ref_tokens, tok.detokenize, bleu_tokenize)
        captions = [e.text for e in train]
        neighbours = nearest_neighbour_captions(self.features(train), captions, self.features(test))
        frequent = most_frequent_caption(captions)
        baselines = {}
        for key, name, texts in (
            ("nearest_neighbour", "caption of the nearest training vector (1-NN, Euclidean)", neighbours),
            (
                "most_frequent_caption",
                f"the most frequent training caption ({frequent!r})",
                [frequent] * len(test),
            ),
        ):
            scored = caption_scores(
                [self.tokens(t) for t in texts], ref_tokens, tok.detokenize, bleu_tokenize
            )
            baselines[key] = {"name": name, **{f"test_{k}": v for k, v in scored.items()}}
        samples = [{"reference": e.text, "generated": tok.detokenize(h), "nearest_neighbour": n}
                   for e, h, n in zip(test, hyp_tokens, neighbours)]  # fmt: skip
        step = max(1, len(samples) // (2 * SHOWN))
        return {
            **{f"test_{name}": value for name, value in scores.items()},
            "bleu_tokenize": bleu_tokenize,
            "baseline": baselines["nearest_neighbour"],
            "baselines": baselines,  # printed by `rnnkit train`
            "samples": samples[::step][: 2 * SHOWN],
            "generated": samples,
        }

    def write_artifacts(self, model: nn.Module, folder: Path, results: dict[str, Any]) -> list[Path]:
        """``samples.txt``: every text the report generated, a line each (class, judges' verdicts and text;
        or reference, generated caption and the nearest neighbour's)."""
        lines = []
        for s in results["generated"]:
            if "label" in s:
                verdicts = " ".join(
                    f"{k.replace('_judge', '')}={v}" for k, v in s.items() if k.endswith("_judge")
                )
                lines.append(f"[{s['label']}] ({verdicts}) {s['text']}")
            else:
                lines.append(f"{s['reference']}\t{s['generated']}\t{s['nearest_neighbour']}")
        header = ("# class (judges' verdicts) generated text" if self.mode == "class"
                  else "# reference<TAB>generated<TAB>nearest neighbour's caption")  # fmt: skip
        path = folder / "samples.txt"
        atomic_write_text(path, "\n".join([header, *lines]) + "\n")
        return [path]
