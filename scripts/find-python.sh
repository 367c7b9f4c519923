#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 needs 3.8-3.10; we pin 3.10).
# Looks on PATH, then in pyenv; fails with a clear message if none is found.
set -euo pipefail
want="3.10"
ok() { "$1" -c "import sys; sys.exit(0 if sys.version_info[:2]==(3,10) else 1)" 2>/dev/null; }
for candidate in "${PYTHON310:-}" python3.10 "$(command -v pyenv >/dev/null 2>&1 && pyenv prefix "$want" 2>/dev/null | head -n1)/bin/python"; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null || true)
  if [ -n "$path" ] && ok "$path"; then echo "$path"; exit 0; fi
done
root="${PYENV_ROOT:-$HOME/.pyenv}"
for path in $(ls -d "$root"/versions/3.10*/bin/python 2>/dev/null | sort -V -r); do
  if ok "$path"; then echo "$path"; exit 0; fi
done
echo "error: Python 3.10 is required (Rasa 3.6 runs only on Python 3.8-3.10)." >&2
echo "       Install it (e.g. 'pyenv install 3.10') or set PYTHON310=/path/to/python3.10." >&2
exit 1
