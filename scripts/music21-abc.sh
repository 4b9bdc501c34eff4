#!/usr/bin/env bash
# Imports the ABC folk collections that the music21 Python package ships (O'Neill's Music of
# Ireland 1850, Ryan's Mammoth Collection, Aird's Airs, the Essen folksong sample, and the
# Nottingham lead-sheet sample) with `cadenza corpus import`, one processed corpus per
# collection under OUT, and prints tunes read and skipped with the commonest reasons. Nothing
# is copied into the repository: the tunes are read where music21 keeps them.
#
# Usage: bash scripts/music21-abc.sh [OUT] [extra `corpus import` arguments]
#   OUT  default runs/music21-abc (git-ignored)
#
# music21 is found with PYTHON (default python3); when that interpreter lacks it, it is
# installed into runs/music21-abc/venv. CADENZA names the binary (default: a release build,
# made with cargo on first use). Any other folder of .abc files, such as a download of The
# Session's tunes, imports the same way:
#   cadenza corpus import --in path/to/abc-folder --out runs/my-tunes
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/music21-abc}"
shift || true
python="${PYTHON:-python3}"
if ! "$python" -c "import music21" 2>/dev/null; then
  venv="$out/venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "music21==10.5.1"
  python="$venv/bin/python"
fi
corpus="$("$python" -c 'import music21, os; print(os.path.join(os.path.dirname(music21.__file__), "corpus"))')"
cadenza="${CADENZA:-}"
if [ -z "$cadenza" ]; then
  cargo build --release --quiet --bin cadenza
  cadenza="${CARGO_TARGET_DIR:-target}/release/cadenza"
fi
mkdir -p "$out"
for collection in oneills1850 ryansMammoth airdsAirs essenFolksong nottingham-dataset; do
  if [ ! -d "$corpus/$collection" ]; then
    echo "$collection: not in this music21 ($corpus)" >&2
    continue
  fi
  "$cadenza" corpus import --in "$corpus/$collection" --out "$out/$collection" --json "$@" \
    > "$out/$collection.json"
done
"$python" - "$out" <<'PY'
import collections, json, os, sys
out = sys.argv[1]
total_read, total_skipped, reasons = 0, 0, collections.Counter()
print(f"{'collection':20} {'files':>6} {'tunes read':>10} {'skipped':>8} {'with chords':>11}")
for name in ["oneills1850", "ryansMammoth", "airdsAirs", "essenFolksong", "nottingham-dataset"]:
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    total_read += r["melodies"]
    total_skipped += len(r["skipped"])
    reasons.update(r["skip_counts"])
    print(f"{name:20} {r['entries']:>6} {r['melodies']:>10} {len(r['skipped']):>8} {r['with_harmony']:>11}")
print(f"{'all':20} {'':>6} {total_read:>10} {total_skipped:>8}")
print("commonest reasons for skipping:")
for reason, n in reasons.most_common(10):
    print(f"  {n:5}  {reason}")
print(f"per-tune reasons: {out}/<collection>/report.json (\"skipped\")")
PY
