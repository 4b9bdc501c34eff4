#!/usr/bin/env bash
# Makes a held-out corpus from a collection other than O'Neill's, for the generalisation check
# of docs/learning-from-examples.md: MIDI files plus manifest.csv (provenance), written from
# music21's own corpus. Both the virtual environment and the files stay in runs/ (git-ignored);
# nothing is committed.
#
# Usage: bash scripts/heldout-corpus.sh [COLLECTION] [COUNT] [OUT]
#   COLLECTION  essenFolksong (default; German folk songs), ryansMammoth or airdsAirs
#   COUNT       tunes to write (default 300)
#   OUT         default runs/heldout/COLLECTION
set -euo pipefail
cd "$(dirname "$0")/.."
collection="${1:-essenFolksong}"
count="${2:-300}"
out="${3:-runs/heldout/$collection}"
venv="runs/heldout/venv"
music21_version="9.9.1"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import music21" 2>/dev/null; then
  "$venv/bin/pip" install --quiet "music21>=${music21_version}"
fi
"$venv/bin/python" scripts/heldout_corpus.py "$out" --collection "$collection" --count "$count"
