#!/usr/bin/env bash
# `rasa data validate --fail-on-warnings`, plus: fail on any data warning Rasa
# prints without failing (Rasa 3.6 only prints unused-response warnings).
# Known false positives are allowed: a form's question (utter_ask_<slot>) is
# asked by the form itself, the "did you mean" question and its button titles
# (utter_disambiguate, utter_intent_title_<intent>) are sent by
# action_disambiguate, and nlu_ambiguous is predicted by a pipeline component
# (bot.nlu.components.AmbiguityDetector), never trained; the validator knows
# none of this.
set -uo pipefail
rasa="$1"; shift
log=$(mktemp)
"$rasa" data validate --fail-on-warnings "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
unexpected=$(grep -a "UserWarning" "$log" | grep -a "rasa/shared/utils/io.py" \
  | grep -av "The utterance 'utter_ask_[a-z_]*' is not used in any story or rule" \
  | grep -av "The utterance 'utter_\(intent_title_[a-z_]*\|disambiguate\)' is not used in any story or rule" \
  | grep -av "The intent 'nlu_ambiguous' is listed in the domain file, but is not found in the NLU training data")
rm -f "$log"
if [ "$status" -ne 0 ]; then echo "rasa data validate failed" >&2; exit "$status"; fi
if [ -n "$unexpected" ]; then
  echo "rasa data validate printed data warnings:" >&2; echo "$unexpected" >&2; exit 1
fi
echo "training data valid"
