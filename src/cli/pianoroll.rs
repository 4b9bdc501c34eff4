//! A melody as a text piano roll: one row per pitch (high to low), one column per step,
//! `#` where a note starts, `=` while it is held, `|` at bar lines.

use cadenza_env::encoding::{Event, EventEncoding};

const NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// The scientific name of a MIDI pitch (60 = C4).
pub fn pitch_name(pitch: u8) -> String {
    format!("{}{}", NAMES[pitch as usize % 12], pitch as i32 / 12 - 1)
}

/// Renders `events` over the pitch range they use; rests and silent steps are blank (`.`).
/// `steps_per_bar` of 0 draws no bar lines.
pub fn render(events: &[Event], encoding: EventEncoding, steps_per_bar: usize) -> String {
    let notes = match encoding.to_notes(events) {
        Ok(notes) => notes,
        Err(e) => return format!("(cannot draw: {e})\n"),
    };
    let Some(high) = notes.iter().map(|n| n.pitch).max() else {
        return "(silence)\n".to_string();
    };
    let low = notes.iter().map(|n| n.pitch).min().unwrap_or(high);
    let width = events.len();
    let bar = |step: usize| step > 0 && step.checked_rem(steps_per_bar) == Some(0);
    let mut out = String::new();
    for pitch in (low..=high).rev() {
        let mut cells = vec!['.'; width];
        for note in notes.iter().filter(|n| n.pitch == pitch) {
            let start = note.start as usize;
            let end = (start + note.duration as usize).min(width);
            for (i, cell) in cells.iter_mut().enumerate().take(end).skip(start) {
                *cell = if i == start { '#' } else { '=' };
            }
        }
        out.push_str(&format!("{:>4} |", pitch_name(pitch)));
        for (step, cell) in cells.into_iter().enumerate() {
            if bar(step) {
                out.push('|');
            }
            out.push(cell);
        }
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::encoding::{HOLD, REST};

    #[test]
    fn draws_onsets_holds_and_bars() {
        // C4 held two steps, a rest, E4, then (bar) D4.
        let roll = render(&[14, HOLD, REST, 18, 16], EventEncoding::RL_TUNER_38, 4);
        let lines: Vec<&str> = roll.lines().collect();
        assert_eq!(lines.len(), 5, "{roll}"); // E4 down to C4
        assert_eq!(lines[0], "  E4 |...#|.|");
        assert_eq!(lines[2], "  D4 |....|#|");
        assert_eq!(lines[4], "  C4 |#=..|.|");
        assert_eq!(pitch_name(61), "C#4");
    }

    #[test]
    fn silence_is_named() {
        assert_eq!(
            render(&[REST, HOLD], EventEncoding::RL_TUNER_38, 16),
            "(silence)\n"
        );
    }
}
