"""ABC and MusicXML written by Cadenza, read by a second implementation (music21): its notes,
chord symbols, key and meter equal ours."""

import os
from pathlib import Path

import numpy as np
import pytest

import cadenza

from music21 import converter, harmony, key, meter, note

CONFIG = {"key": "F major", "length": 64, "progression": "| F | Bb | C7 | Dm7 |"}
#: Pitch classes of the progression's chords, bar by bar.
CHORDS = [{5, 9, 0}, {10, 2, 5}, {0, 4, 7, 10}, {2, 5, 9, 0}]
STEPS_PER_QUARTER = 4


def generated(seed):
    """A melody of the improv task: random events with holds and rests, as an agent writes."""
    env = cadenza.make("improv", config=CONFIG)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(CONFIG["length"]):
        roll = rng.random()
        event = 1 if roll < 0.4 else 0 if roll < 0.5 else int(rng.integers(2, env.action_space.n))
        _, _, terminated, _, _ = env.step(event)
    assert terminated
    return env.melody, env._min_pitch


def our_notes(events, min_pitch):
    """(onset, length, MIDI pitch) in quarter notes, as the encoding defines them."""
    notes, current = [], None
    for step, event in enumerate(list(events) + [0]):
        if event == 1 and current is not None:
            current[1] += 1
            continue
        if current is not None:
            notes.append(current)
            current = None
        if event >= 2:
            current = [step, 1, min_pitch + event - 2]
    q = float(STEPS_PER_QUARTER)
    return [(s / q, n / q, p) for s, n, p in notes]


def their_notes(score):
    flat = score.stripTies().flatten()
    return [
        (float(n.offset), float(n.quarterLength), n.pitch.midi)
        for n in flat.notes
        if isinstance(n, note.Note)
    ]


def their_chords(score):
    flat = score.flatten()
    return [
        (float(c.offset), {p.pitchClass for p in c.pitches})
        for c in flat.getElementsByClass(harmony.ChordSymbol)
    ]


@pytest.mark.parametrize("fmt", ["musicxml", "abc"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_music21_reads_our_notes_chords_key_and_meter(tmp_path, fmt, seed):
    melody, min_pitch = generated(seed)
    path = tmp_path / f"melody-{seed}.{fmt}"
    cadenza.write_song(melody, path, task="improv", config=CONFIG)
    score = converter.parse(str(path), format=fmt)
    assert their_notes(score) == our_notes(melody, min_pitch)
    assert their_chords(score) == [(4.0 * bar, tones) for bar, tones in enumerate(CHORDS)]
    (signature,) = score.flatten().getElementsByClass(key.KeySignature)[:1]
    assert signature.sharps == -1
    (time,) = score.flatten().getElementsByClass(meter.TimeSignature)[:1]
    assert time.ratioString == "4/4"


def test_the_dev_corpus_style_melody_round_trips_through_abc(tmp_path):
    """A tune with a pickup, a note tied across the bar line, dotted rhythms and notes out
    of the key (D#, C# then C) reads back in music21 note for note."""
    events = np.array(
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 1, 17, 1, 19, 1]
        + [1, 1, 1, 1, 18, 1, 15, 1, 1, 14, 1, 1, 13, 1, 14, 1]
    )
    path = tmp_path / "tune.abc"
    cadenza.write_song(events, path)
    score = converter.parse(str(path), format="abc")
    assert their_notes(score) == our_notes(events, 48)


def test_unknown_formats_are_refused(tmp_path):
    with pytest.raises(ValueError, match="expected midi, abc or musicxml"):
        cadenza.write_song(np.array([14, 1]), tmp_path / "x.abc", format="pdf")
    with pytest.raises(ValueError, match="cannot tell the format"):
        cadenza.write_song(np.array([14, 1]), tmp_path / "x.pdf")


DEV_CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus" / "oneills-dev"
#: A range wide enough for every tune of the development corpus (MIDI 55..88).
WIDE = {"low": "C3", "high": "C7", "progression": "| C |"}


@pytest.mark.parametrize("fmt", ["musicxml", "abc"])
def test_the_development_corpus_reads_the_same_in_music21(tmp_path, fmt):
    """Tunes of the development corpus, read from MIDI as events and written as MusicXML or
    ABC, are parsed by music21 to exactly our notes: every 20th tune by default (music21 takes
    about a quarter of a second a file), all 600 with CADENZA_FULL_CORPUS=1."""
    files = sorted(DEV_CORPUS.glob("*.mid"))
    assert len(files) == 600
    if not os.environ.get("CADENZA_FULL_CORPUS"):
        files = files[::20]
    min_pitch = cadenza.make("improv", config=WIDE)._min_pitch
    for path in files:
        events = cadenza.from_midi(path, task="improv", config=WIDE)
        out = tmp_path / f"{path.stem}.{fmt}"
        cadenza.write_song(events, out, task="improv", config=WIDE, chords=False)
        score = converter.parse(str(out), format=fmt)
        assert their_notes(score) == our_notes(events, min_pitch), path.name
