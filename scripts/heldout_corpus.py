"""Writes melodies of a collection other than O'Neill's as MIDI files, with provenance.

Run by scripts/heldout-corpus.sh inside a private virtual environment that has music21, whose
own corpus holds the collections (ABC encodings). Output: OUT/*.mid and OUT/manifest.csv (one
row per file: collection, source file inside music21's corpus, tune number and title, key,
meter, note count). Nothing here is committed: the files are made on demand.

Usage: python heldout_corpus.py OUT [--collection essenFolksong] [--count 300]
                                     [--keep-key-signatures]
"""

import argparse
import csv
import os
import sys

# Essen's German collections (the Chinese 'han*' and Irish 'irl' files and the 'test*' files
# are left out: the point is a different tradition from O'Neill's Irish tunes).
ESSEN_FILES = [
    "altdeu10.abc",
    "altdeu20.abc",
    "ballad10.abc",
    "boehme10.abc",
    "erk10.abc",
    "fink0.abc",
    "kinder0.abc",
    "zuccal0.abc",
]

LICENCES = {
    "essenFolksong": "Essen Folksong Collection (Schaffrath, 1995), ABC encodings as redistributed "
    "in the music21 corpus; not redistributed here",
    "ryansMammoth": "Ryan's Mammoth Collection (1883), public domain melodies; ABC encodings as "
    "redistributed in the music21 corpus; not redistributed here",
    "airdsAirs": "Aird's Selection of Scotch, English, Irish and Foreign Airs (1782-1803), public "
    "domain melodies; ABC encodings as redistributed in the music21 corpus; not redistributed here",
}


def sources(collection):
    from music21 import corpus

    paths = sorted(str(p) for p in corpus.getComposer(collection))
    if collection == "essenFolksong":
        keep = set(ESSEN_FILES)
        paths = [p for p in paths if os.path.basename(p) in keep]
    return paths


def relative(path):
    marker = os.sep + "music21" + os.sep + "corpus" + os.sep
    i = path.rfind(marker)
    return "music21/corpus/" + path[i + len(marker):].replace(os.sep, "/") if i >= 0 else path


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--collection", default="essenFolksong")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument(
        "--keep-key-signatures",
        action="store_true",
        help="write music21's key signatures into the MIDI files (unreliable for modal tunes)",
    )
    args = parser.parse_args()

    import music21
    from music21 import converter, meter

    os.makedirs(args.out, exist_ok=True)
    rows = []
    skipped = 0
    for path in sources(args.collection):
        if len(rows) >= args.count:
            break
        try:
            opus = converter.parse(path)
        except Exception as e:  # a whole source file that music21 cannot read
            print(f"skipped {path}: {e}", file=sys.stderr)
            continue
        scores = opus.scores if hasattr(opus, "scores") else [opus]
        for number, score in enumerate(scores):
            if len(rows) >= args.count:
                break
            try:
                notes = score.flatten().notes
                if len(notes) < 8:
                    skipped += 1
                    continue
                keys = score.flatten().getElementsByClass("KeySignature")
                key = ""
                if keys:
                    k = keys[0]
                    key = k.asKey().name if hasattr(k, "asKey") else str(k)
                meters = score.flatten().getElementsByClass(meter.TimeSignature)
                if not args.keep_key_signatures:
                    # music21 writes the signature of a modal tune (K:E phrygian, say) as its
                    # major key's (four sharps for E), which contradicts the notes; without a
                    # signature Cadenza finds the key from the notes (Krumhansl-Schmuckler).
                    for k in list(score.recurse().getElementsByClass("KeySignature")):
                        k.activeSite.remove(k)
                name = f"{args.collection}_{len(rows):04d}.mid"
                score.write("midi", fp=os.path.join(args.out, name))
            except Exception as e:  # one tune music21 cannot write
                print(f"skipped tune {number} of {path}: {e}", file=sys.stderr)
                skipped += 1
                continue
            title = score.metadata.title if score.metadata and score.metadata.title else ""
            rows.append(
                {
                    "file": name,
                    "collection": args.collection,
                    "source_file": relative(path),
                    "number_in_source": number,
                    "title": title,
                    "key_signature": key,
                    "meter": meters[0].ratioString if meters else "",
                    "num_notes": len(notes),
                    "music21_version": music21.__version__,
                    "license": LICENCES.get(args.collection, "see the music21 corpus"),
                }
            )
    with open(os.path.join(args.out, "manifest.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["file"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} MIDI files and manifest.csv to {args.out} ({skipped} tunes skipped)")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
