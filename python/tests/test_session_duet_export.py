"""`cadenza session export --duet`: a session's duet exchanges (calls and answers from its log)
as one MIDI file, read back by a second MIDI library (mido).

Runs the `cadenza` binary named by CADENZA_BIN (scripts/python-test.sh builds it and sets it).
"""

import json
import os
import subprocess

import mido
import pytest

# F major, 3/4 at 100 qpm, four steps a quarter: 12 steps a bar, calls and answers of 2 bars.
TASK = 'key = "F major"\ntempo = 100\nmeter = "3/4"\nlength = 48\n'
LOW = 60  # the session's range starts at C4: event 2 strikes C4, 3 C#4, ...
H = 1  # hold
R = 0  # rest


def ev(pitch):
    return pitch - LOW + 2


# (call, answer) of two exchanges, one event a step.
EXCHANGES = [
    (
        [ev(65), H, H, H, ev(69), H, ev(72), H, H, H, H, H, R, H, H, H, ev(70)] + [H] * 7,
        [ev(72), H, ev(70), H, ev(69), H, H, H, ev(67), H, H, H, ev(65)] + [H] * 11,
    ),
    (
        [ev(74), H, H, H, H, H, ev(72), H, H, H, H, H, ev(70), H, H, H, H, H, ev(69)] + [H] * 5,
        [ev(67), H, H, H, R, H, ev(69), H, H, H, R, H, ev(65)] + [H] * 11,
    ),
]


def cadenza():
    path = os.environ.get("CADENZA_BIN")
    if not path:
        pytest.skip("CADENZA_BIN names no cadenza binary (scripts/python-test.sh sets it)")
    return path


def session_log(tmp_path):
    """A short simulated session's log (its session and calibration records) in F major 3/4."""
    task = tmp_path / "task.toml"
    task.write_text(TASK)
    log = tmp_path / "session.jsonl"
    subprocess.run(
        [cadenza(), "session", "--listener", "sim:stepwise", "--rounds", "1", "--held-out", "0",
         "--pretrain-steps", "2000", "--log", str(log), "--task-config", str(task), "--json"],
        check=True, capture_output=True,
    )
    return log


def notes_of(events, offset):
    """(start step, end step, pitch) of each note of `events` placed at `offset`."""
    notes = []
    sounding = False
    for k, e in enumerate(events):
        if e >= 2:
            notes.append([offset + k, offset + k + 1, e - 2 + LOW])
        elif e == H and sounding:
            notes[-1][1] += 1
        sounding = e >= 2 or (e == H and sounding)
    return [tuple(n) for n in notes]


def test_a_session_duet_exports_as_midi_with_its_backing(tmp_path):
    log = session_log(tmp_path)
    with open(log, "a") as f:
        for k, (call, answer) in enumerate(EXCHANGES):
            f.write(json.dumps({"type": "duet_call", "exchange": k, "call": call, "answer": answer}) + "\n")
            f.write(json.dumps({"type": "duet_rating", "exchange": k, "rating": 4}) + "\n")
    out = tmp_path / "duet.mid"
    done = subprocess.run([cadenza(), "session", "export", str(log), "--duet", "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote 2 duet exchanges (96 steps)" in done.stderr

    midi = mido.MidiFile(out)
    metas = [m for track in midi.tracks for m in track if m.is_meta]
    titles = [m.name for m in metas if m.type == "track_name"]
    assert any("you / cadenza / you / cadenza" in t for t in titles), titles
    tempo = [m.tempo for m in metas if m.type == "set_tempo"][0]
    assert mido.tempo2bpm(tempo) == pytest.approx(100)
    meter = [(m.numerator, m.denominator) for m in metas if m.type == "time_signature"][0]
    assert meter == (3, 4)

    # Notes per channel as (start tick, end tick, pitch).
    per_channel = {}
    for track in midi.tracks:
        tick = 0
        open_notes = {}
        for m in track:
            tick += m.time
            if m.type == "note_on" and m.velocity > 0:
                open_notes[(m.channel, m.note)] = tick
            elif m.type in ("note_off", "note_on"):
                start = open_notes.pop((m.channel, m.note))
                per_channel.setdefault(m.channel, []).append((start, tick, m.note))
    tick_per_step = midi.ticks_per_beat // 4
    melody = sorted((s // tick_per_step, e // tick_per_step, p) for s, e, p in per_channel[0])
    expected = []
    for k, (call, answer) in enumerate(EXCHANGES):
        expected += notes_of(call, 48 * k) + notes_of(answer, 48 * k + 24)
    assert melody == expected

    # The chords: | F | C7 | under each call, | F | C7 F | under each answer (F A C, C E G B-flat).
    chords = {}
    for c, notes in per_channel.items():
        if c != 0:
            for s, _, p in notes:
                chords.setdefault(s // tick_per_step, set()).add(p % 12)
    f_major, c7 = {5, 9, 0}, {0, 4, 7, 10}
    per_exchange = [(0, f_major), (12, c7), (24, f_major), (36, c7), (42, f_major)]
    assert sorted(chords.items()) == [(48 * k + s, pcs) for k in range(2) for s, pcs in per_exchange]
    # The file ends after the last answer: 96 steps, 24 quarters at 100 qpm.
    assert midi.length == pytest.approx(24 * 0.6, rel=0.05)


def test_a_log_without_duet_exchanges_is_named_in_the_error(tmp_path):
    log = session_log(tmp_path)
    out = tmp_path / "duet.mid"
    done = subprocess.run([cadenza(), "session", "export", str(log), "--duet", "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert str(log) in done.stderr and "no duet_call records" in done.stderr, done.stderr
    assert not out.exists()
