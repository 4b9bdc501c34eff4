//! A call played live on a MIDI keyboard, as the duet takes it: timestamped MIDI messages in,
//! the call's notes ([`CallNote`]) out, on the session's grid of sixteenths.
//!
//! The page's computer keys and Web MIDI follow the same rules; this is the terminal's
//! recorder (fed by `midi_in`, feature `midi-in`, where a port is open, and by tests with messages they
//! make):
//!
//! - the call starts with the first note-on: that note is on step 0, and every later event
//!   is placed on the nearest step of the tempo's grid from there;
//! - one note at a time: a note-on ends the note that sounds; a note-off (or a note-on at
//!   velocity 0) of the sounding pitch ends it; a note lasts at least one step;
//! - notes outside the task's range are left out and counted, so the person can be told;
//! - the call ends at the bar line after its bars, or earlier after `pause` steps with no
//!   note sounding (a player who stops); a note still sounding then is cut there.
//!
//! Messages other than note-on and note-off (clock, controllers, running status without a
//! status byte) are ignored.

use crate::duet::CallNote;

/// What a recorder makes of the messages it was fed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The call's notes, in order, on the grid.
    pub notes: Vec<CallNote>,
    /// Notes left out because their pitch is outside the range.
    pub out_of_range: usize,
}

/// Turns a live stream of MIDI messages into a call (see the module docs).
#[derive(Debug, Clone)]
pub struct CallRecorder {
    step_us: f64,
    call_steps: u32,
    pause_steps: u32,
    range: (u8, u8),
    /// The first note-on's time, once there was one.
    origin: Option<u64>,
    /// The sounding note: its pitch and first step.
    sounding: Option<(u8, u32)>,
    /// The step at which the last note ended, while none sounds.
    silent_since: Option<u32>,
    notes: Vec<CallNote>,
    out_of_range: usize,
    ended: bool,
}

impl CallRecorder {
    /// A recorder for calls of `call_steps` steps at `tempo_qpm` quarters a minute and
    /// `steps_per_quarter`, ending early after `pause_steps` silent steps (0: only at the
    /// bar line), keeping notes whose pitch is within `range` (inclusive).
    pub fn new(
        tempo_qpm: f64,
        steps_per_quarter: u32,
        call_steps: u32,
        pause_steps: u32,
        range: (u8, u8),
    ) -> Self {
        let step_us = 60_000_000.0 / (tempo_qpm.max(1.0) * f64::from(steps_per_quarter.max(1)));
        Self {
            step_us,
            call_steps,
            pause_steps,
            range,
            origin: None,
            sounding: None,
            silent_since: None,
            notes: Vec::new(),
            out_of_range: 0,
            ended: false,
        }
    }

    /// The step of time `at_us` (microseconds, on any clock that the messages share).
    fn step_of(&self, origin: u64, at_us: u64) -> u32 {
        let elapsed = at_us.saturating_sub(origin) as f64;
        (elapsed / self.step_us).round().min(f64::from(u32::MAX)) as u32
    }

    /// Whether the call has ended (its bars are over, or the player paused).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Whether the call has started (a note was played).
    pub fn started(&self) -> bool {
        self.origin.is_some()
    }

    /// Feeds one MIDI message received at `at_us`. Returns whether the call has ended.
    pub fn push(&mut self, at_us: u64, message: &[u8]) -> bool {
        if self.ended {
            return true;
        }
        self.tick(at_us);
        if self.ended {
            return true;
        }
        let (Some(&status), Some(&pitch)) = (message.first(), message.get(1)) else {
            return false;
        };
        let velocity = message.get(2).copied().unwrap_or(0);
        let on = status & 0xF0 == 0x90 && velocity > 0;
        let off = status & 0xF0 == 0x80 || (status & 0xF0 == 0x90 && velocity == 0);
        if on {
            if !(self.range.0..=self.range.1).contains(&pitch) {
                self.out_of_range += 1;
                return false;
            }
            let origin = *self.origin.get_or_insert(at_us);
            let step = self.step_of(origin, at_us);
            if step >= self.call_steps {
                self.end_at(self.call_steps);
                return true;
            }
            // A new note ends the sounding one (at least a step long; a note struck on the
            // step the sounding one began replaces it).
            if let Some((_, start)) = self.sounding {
                if step <= start {
                    self.sounding = None;
                } else {
                    self.close(step);
                }
            }
            let start = self
                .notes
                .last()
                .map_or(step, |n| step.max(n.start + n.duration));
            if start < self.call_steps {
                self.sounding = Some((pitch, start));
                self.silent_since = None;
            }
        } else if off {
            if let (Some(origin), Some((sounding, _))) = (self.origin, self.sounding) {
                if sounding == pitch {
                    let step = self.step_of(origin, at_us).min(self.call_steps);
                    self.close(step);
                }
            }
        }
        self.ended
    }

    /// Advances the clock to `now_us` with no message: ends the call when its bars are over
    /// or the pause has passed. Returns whether the call has ended.
    pub fn tick(&mut self, now_us: u64) -> bool {
        let Some(origin) = self.origin else {
            return false;
        };
        let step = self.step_of(origin, now_us);
        if step >= self.call_steps {
            self.end_at(self.call_steps);
        } else if let Some(since) = self.silent_since {
            if self.pause_steps > 0 && step >= since + self.pause_steps {
                self.ended = true;
            }
        }
        self.ended
    }

    /// Ends the sounding note at `step` (at least one step after its start).
    fn close(&mut self, step: u32) {
        if let Some((pitch, start)) = self.sounding.take() {
            let end = step.max(start + 1).min(self.call_steps);
            if end > start {
                self.notes.push(CallNote {
                    pitch,
                    start,
                    duration: end - start,
                });
            }
            self.silent_since = Some(end);
        }
    }

    fn end_at(&mut self, step: u32) {
        self.close(step);
        self.ended = true;
    }

    /// The call as recorded so far, a sounding note cut at the end of the call's bars (or,
    /// after a pause, where it was released).
    pub fn finish(mut self) -> RecordedCall {
        if self.sounding.is_some() {
            self.close(self.call_steps);
        }
        RecordedCall {
            notes: self.notes,
            out_of_range: self.out_of_range,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At 120 qpm and four steps a quarter, a step is 125 ms.
    const STEP: u64 = 125_000;

    fn recorder() -> CallRecorder {
        CallRecorder::new(120.0, 4, 32, 16, (48, 84))
    }

    fn on(pitch: u8) -> [u8; 3] {
        [0x90, pitch, 100]
    }

    fn off(pitch: u8) -> [u8; 3] {
        [0x80, pitch, 0]
    }

    fn note(pitch: u8, start: u32, duration: u32) -> CallNote {
        CallNote {
            pitch,
            start,
            duration,
        }
    }

    #[test]
    fn notes_land_on_the_nearest_step_from_the_first_note_on() {
        let t0 = 5_000_000;
        let mut r = recorder();
        // C4 for a quarter (released a little early), E4 struck a little late, held into
        // G4, which ends the call at its bar line.
        r.push(t0, &on(60));
        r.push(t0 + 4 * STEP - 20_000, &off(60));
        r.push(t0 + 4 * STEP + 30_000, &on(64));
        r.push(t0 + 8 * STEP, &on(67));
        // The velocity-0 note-on of the old pitch is ignored: it no longer sounds.
        r.push(t0 + 9 * STEP, &[0x90, 64, 0]);
        // Clock and controller messages change nothing.
        r.push(t0 + 9 * STEP, &[0xF8]);
        r.push(t0 + 9 * STEP, &[0xB0, 64, 127]);
        assert!(!r.ended());
        assert!(r.push(t0 + 40 * STEP, &off(67)));
        let call = r.finish();
        assert_eq!(
            call.notes,
            vec![note(60, 0, 4), note(64, 4, 4), note(67, 8, 24)]
        );
        assert_eq!(call.out_of_range, 0);
    }

    #[test]
    fn a_pause_ends_the_call_and_out_of_range_notes_are_counted() {
        let mut r = recorder();
        r.push(0, &on(40));
        assert!(
            !r.started(),
            "a note outside the range does not start the call"
        );
        r.push(STEP, &on(62));
        r.push(3 * STEP, &[0x90, 62, 0]);
        r.push(4 * STEP, &on(100));
        assert!(!r.tick(15 * STEP));
        assert!(r.tick(19 * STEP), "16 silent steps after step 2");
        assert!(r.push(20 * STEP, &on(64)), "nothing is taken after the end");
        let call = r.finish();
        assert_eq!(call.notes, vec![note(62, 0, 2)]);
        assert_eq!(call.out_of_range, 2);
    }

    #[test]
    fn key_mashing_keeps_one_note_at_a_time_at_least_a_step_long() {
        let mut r = recorder();
        let t0 = 1_000;
        // Four keys within a few milliseconds: each replaces the last on step 0.
        for (i, p) in [60u8, 62, 64, 65].into_iter().enumerate() {
            r.push(t0 + i as u64 * 3_000, &on(p));
        }
        // A note released at once still lasts a step, and the next starts after it.
        r.push(t0 + STEP, &on(67));
        r.push(t0 + STEP + 1_000, &off(67));
        r.push(t0 + STEP + 2_000, &on(69));
        let call = r.finish();
        assert_eq!(
            call.notes,
            vec![note(65, 0, 1), note(67, 1, 1), note(69, 2, 30)]
        );
        // Each is a call the duet accepts: in range, within the bars, one at a time.
        let ends: Vec<u32> = call.notes.iter().map(|n| n.start + n.duration).collect();
        assert!(ends.iter().all(|&e| e <= 32));
    }

    #[test]
    fn nothing_played_is_an_empty_call() {
        let mut r = recorder();
        assert!(!r.tick(1_000_000_000));
        let call = r.finish();
        assert!(call.notes.is_empty());
    }
}
