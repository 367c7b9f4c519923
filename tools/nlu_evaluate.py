"""Evaluate the trained model's intent classification on held-out data, per language.

The held-out file (``tests/nlu_heldout.yml``) is written separately from the
training data and never trained on.  The report (JSON and text) is a build
artifact under ``var/reports/nlu``; the run fails when the weighted intent F1 of
either language falls below ``--min-f1``.

Usage: ``python -m tools.nlu_evaluate --model var/models --data tests/nlu_heldout.yml``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

from sklearn.metrics import classification_report, f1_score

from common.language import detect_language

Example = Tuple[str, str]  # (text, gold intent)


def normalized(text: str) -> str:
    """Text compared without case, spaces and punctuation."""
    return re.sub(r"[\s\W_]+", "", text.lower())


def leaked_examples(heldout: List[Example], training: List[Example]) -> List[str]:
    """Held-out texts that also occur (normalised) in the training data."""
    seen = {normalized(text) for text, _ in training}
    return [text for text, _ in heldout if normalized(text) in seen]


def load_examples(path: Path) -> List[Example]:
    """The (text, intent) pairs of an NLU data file."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


async def predict(model: Path, texts: List[str]) -> List[str]:
    """The intent the trained model predicts for each text, in order."""
    import logging

    from rasa.core.agent import load_agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # no per-message debug lines

    agent = await load_agent(model_path=str(model))
    predictions = []
    for text in texts:
        parsed = await agent.parse_message(text)
        predictions.append(parsed["intent"]["name"])
    return predictions


def report_by_language(
    examples: List[Example], predicted: List[str]
) -> Dict[str, Dict]:
    """sklearn classification reports, one per language of the example text."""
    groups: Dict[str, Tuple[List[str], List[str]]] = defaultdict(lambda: ([], []))
    for (text, gold), guess in zip(examples, predicted, strict=False):
        gold_list, guess_list = groups[detect_language(text) or "unknown"]
        gold_list.append(gold)
        guess_list.append(guess)
    reports = {}
    for language, (golds, guesses) in sorted(groups.items()):
        reports[language] = {
            "examples": len(golds),
            "weighted_f1": f1_score(
                golds, guesses, average="weighted", zero_division=0
            ),
            "macro_f1": f1_score(golds, guesses, average="macro", zero_division=0),
            "per_intent": classification_report(
                golds, guesses, output_dict=True, zero_division=0
            ),
            "errors": [
                {"text": t, "gold": g, "predicted": p}
                for (t, g), p in zip(examples, predicted, strict=False)
                if g != p and (detect_language(t) or "unknown") == language
            ],
        }
    return reports


def main(argv: List[str]) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("var/models"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu_heldout.yml"))
    parser.add_argument("--out", type=Path, default=Path("var/reports/nlu"))
    parser.add_argument("--training", type=Path, default=Path("data/nlu"))
    parser.add_argument("--min-f1", type=float, default=0.85)
    args = parser.parse_args(argv)

    examples = load_examples(args.data)
    leaked = leaked_examples(examples, load_examples(args.training))
    if leaked:
        print(f"held-out examples found in the training data: {leaked}")
        return 1
    predicted = asyncio.run(predict(args.model, [text for text, _ in examples]))
    reports = report_by_language(examples, predicted)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "heldout_report.json").write_text(
        json.dumps(reports, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    lines = []
    failed = False
    for language, report in reports.items():
        ok = report["weighted_f1"] >= args.min_f1
        failed |= not ok
        lines.append(
            f"{language}: {report['examples']} held-out examples, intent F1 "
            f"weighted {report['weighted_f1']:.3f}, macro {report['macro_f1']:.3f}"
            f"{'' if ok else f'  BELOW {args.min_f1}'}"
        )
        for error in report["errors"]:
            lines.append(
                f"    miss: {error['text']!r} {error['gold']} -> {error['predicted']}"
            )
    summary = "\n".join(lines)
    (args.out / "heldout_summary.txt").write_text(summary + "\n", encoding="utf-8")
    print(summary)
    print(f"report: {args.out / 'heldout_report.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
