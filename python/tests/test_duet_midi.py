"""A duet's exchange as one MIDI file, read back by a second MIDI library (mido)."""

import mido
import numpy as np
import pytest

import cadenza


def play_round(env, seed, rng):
    """One call (the env's partner) and a random answer; returns (call, answer)."""
    env.reset(seed=seed)
    calls = len(env.melody)
    terminated = False
    while not terminated:
        mask = env.action_masks()
        action = int(rng.choice(np.flatnonzero(mask)))
        _, _, terminated, _, _ = env.step(action)
    melody = np.asarray(env.melody)
    return melody[:calls], melody[calls:]


def cadenza_notes(events, min_pitch):
    """(start step, pitch) of each note struck: pitch events start at 2."""
    return [(k, int(e) - 2 + min_pitch) for k, e in enumerate(events) if e >= 2]


def test_an_exchange_reads_back_in_mido_with_its_backing(tmp_path):
    env = cadenza.make("duet")
    rng = np.random.default_rng(0)
    phrases = []
    for seed in range(3):
        call, answer = play_round(env, seed, rng)
        phrases += [(call, True, "partner"), (answer, False, "agent")]
    path = tmp_path / "duet.mid"
    cadenza.duet_to_midi(phrases, path)

    midi = mido.MidiFile(path)
    steps = sum(len(events) for events, _, _ in phrases)
    assert steps == 3 * 64
    # The title names the players; tempo and meter are the task's.
    metas = [m for track in midi.tracks for m in track if m.is_meta]
    titles = [m.name for m in metas if m.type == "track_name"]
    assert any("partner / agent" in t for t in titles), titles
    tempo = [m.tempo for m in metas if m.type == "set_tempo"][0]
    assert round(mido.tempo2bpm(tempo)) == 120
    meter = [(m.numerator, m.denominator) for m in metas if m.type == "time_signature"][0]
    assert meter == (4, 4)

    # Notes per channel, as (start tick, pitch).
    per_channel = {}
    for track in midi.tracks:
        tick = 0
        for m in track:
            tick += m.time
            if m.type == "note_on" and m.velocity > 0:
                per_channel.setdefault(m.channel, []).append((tick, m.note))
    tick_per_step = midi.ticks_per_beat // 4
    events = np.concatenate([events for events, _, _ in phrases])
    expected = cadenza_notes(events, 60)  # the duet's range starts at C4
    melody = sorted(per_channel[0])
    assert [(t // tick_per_step, p) for t, p in melody] == expected
    # The backing: a chord under every bar of the exchange, starting at each chord change.
    chord_starts = sorted({t for c, notes in per_channel.items() if c != 0 for t, _ in notes})
    assert chord_starts[0] == 0
    bars = steps // 16
    assert len(chord_starts) >= bars
    # Calls sound over | C | G7 |: the first chord of the second bar holds G, B, D, F.
    second_bar = {p % 12 for c, notes in per_channel.items() if c != 0
                  for t, p in notes if t == 16 * tick_per_step}
    assert second_bar == {7, 11, 2, 5}
    # The file ends after the last phrase.
    assert midi.length == pytest.approx(steps / 4 * 0.5, rel=0.05)


def test_bad_phrases_are_named():
    with pytest.raises(ValueError, match=r"phrases\[0\]"):
        cadenza.duet_to_midi([([2, 1], True)], "x.mid")
    with pytest.raises(ValueError, match="negative"):
        cadenza.duet_to_midi([([2, -1], True, "partner")], "x.mid")
