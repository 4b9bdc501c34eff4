//! The [`Reward`] contract between environments and reward terms.
//!
//! The environment knows nothing about music theory; it hands each reward a [`StepContext`]
//! (the musical [`Setting`], the melody so far, the step index and the chosen event) and
//! receives a total plus one value per named term. The terms themselves live in the
//! `cadenza-reward` crate; this module only holds the contract and two trivial rewards that
//! the environment's own tests use.
//!
//! Rewards are called once per step on the hot path: implementations keep whatever running
//! state they need (reset in [`Reward::reset`]) so that a step costs the same at step 10 as at
//! step 10,000, and they write into the caller's `terms` slice instead of allocating.

use crate::encoding::{Event, EventEncoding};

/// A chord as reward terms see it: bit masks over pitch classes (bit 0 = C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChordFrame {
    /// Index of the chord in its progression (changes when the chord changes).
    pub index: u16,
    /// Pitch class of the root, 0..12.
    pub root: u8,
    /// Chord tones.
    pub tones: u16,
    /// The chord-scale: chord tones plus the tensions that sound consonant over the chord.
    pub scale: u16,
}

impl ChordFrame {
    /// The frame of `chord`, the `index`-th chord of its progression.
    pub fn of(chord: &crate::music::Chord, index: u16) -> Self {
        Self {
            index,
            root: chord.root().index(),
            tones: chord.tones_mask(),
            scale: chord.scale_mask(),
        }
    }

    /// One frame per step for `length` steps from a lead sheet's harmony, (onset step, chord)
    /// in order of onset: each step takes the last chord that started at or before it (the
    /// first chord before any has started). Empty when `harmony` is.
    pub fn per_step(harmony: &[(u32, crate::music::Chord)], length: usize) -> Vec<Self> {
        let Some(first) = harmony.first() else {
            return Vec::new();
        };
        let mut frames = Vec::with_capacity(length);
        let mut current = ChordFrame::of(&first.1, 0);
        let mut next = 1;
        for step in 0..length {
            while next < harmony.len() && harmony[next].0 as usize <= step {
                current = ChordFrame::of(&harmony[next].1, next.min(usize::from(u16::MAX)) as u16);
                next += 1;
            }
            frames.push(current);
        }
        frames
    }
}

/// The musical frame a melody is composed in, flattened for fast lookups.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Event encoding of the melody.
    pub encoding: EventEncoding,
    /// Steps per episode.
    pub length: usize,
    /// Steps per beat (4 = sixteenth notes in a quarter-note beat).
    pub steps_per_beat: u16,
    /// Beats per bar.
    pub beats_per_bar: u16,
    /// Pitch class of the key's tonic, 0..12.
    pub tonic: u8,
    /// Pitch classes of the key's scale.
    pub scale: u16,
    /// The chord under each step, when the task has a progression (else empty).
    pub chords: Vec<ChordFrame>,
    /// Steps at the start of every episode that a partner plays (the call of a duet, which
    /// the env feeds through the reward before the agent's first step); 0 outside duets.
    pub call_steps: usize,
}

impl Setting {
    /// Magenta RL Tuner's frame: 32 sixteenths in 4/4, C major, no chords.
    pub fn rl_tuner() -> Self {
        Self {
            encoding: EventEncoding::RL_TUNER_38,
            length: 32,
            steps_per_beat: 4,
            beats_per_bar: 4,
            tonic: 0,
            scale: 0b1010_1011_0101, // C D E F G A B
            chords: Vec::new(),
            call_steps: 0,
        }
    }

    /// The frame of a tune read from a file: `length` steps on a grid of `steps_per_quarter`,
    /// the meter's felt beat (a dotted quarter in compound meters: 6/8 has two beats of three
    /// eighths), the key's tonic and scale, and no chords. Fails when a bar is not a whole
    /// number of steps (7/8 at one step per quarter).
    ///
    /// ```
    /// use cadenza_env::music::{Key, Meter};
    /// use cadenza_env::{EventEncoding, Setting};
    ///
    /// let key = Key::from_key_signature(2, false)?; // D major
    /// let setting = Setting::for_tune(EventEncoding::RL_TUNER_38, 48, Meter::new(6, 8)?, 4, key)?;
    /// assert_eq!((setting.steps_per_beat, setting.beats_per_bar, setting.tonic), (6, 2, 2));
    /// # Ok::<(), cadenza_env::music::MusicError>(())
    /// ```
    pub fn for_tune(
        encoding: EventEncoding,
        length: usize,
        meter: crate::music::Meter,
        steps_per_quarter: u32,
        key: crate::music::Key,
    ) -> Result<Self, crate::music::MusicError> {
        let steps_per_bar = meter.steps_per_bar(steps_per_quarter)?;
        let beats = u32::from(meter.main_beats().max(1));
        // A bar that does not split into its felt beats on this grid counts as one beat.
        let (steps_per_beat, beats_per_bar) = if steps_per_bar.is_multiple_of(beats) {
            (steps_per_bar / beats, beats)
        } else {
            (steps_per_bar, 1)
        };
        Ok(Self {
            encoding,
            length,
            steps_per_beat: u16::try_from(steps_per_beat).unwrap_or(u16::MAX),
            beats_per_bar: u16::try_from(beats_per_bar).unwrap_or(u16::MAX),
            tonic: key.tonic.index(),
            scale: key.scale_mask(),
            chords: Vec::new(),
            call_steps: 0,
        })
    }

    /// Steps per bar.
    #[inline]
    pub fn steps_per_bar(&self) -> usize {
        self.steps_per_beat as usize * self.beats_per_bar as usize
    }

    /// The key's tonic triad as pitch-class bits (bit 0 = C), with the third the key's scale
    /// has (major if it holds the major third, else minor): what "chord tones" means where
    /// there is no progression.
    pub fn tonic_triad(&self) -> u16 {
        let tonic = u16::from(self.tonic % 12);
        let bit = |interval: u16| 1u16 << ((tonic + interval) % 12);
        let third = if self.scale & bit(4) != 0 {
            bit(4)
        } else {
            bit(3)
        };
        bit(0) | third | bit(7)
    }

    /// The chord tones sounding at `step` as pitch-class bits: the chord's, or the tonic triad
    /// without a progression (or where a chord frame leaves its tones empty).
    #[inline]
    pub fn chord_tones_at(&self, step: usize) -> u16 {
        match self.chord_at(step) {
            Some(chord) if chord.tones != 0 => chord.tones,
            _ => self.tonic_triad(),
        }
    }

    /// The frame of a duet's answer alone: the steps after the call, with the chords under
    /// them, and no call (what the musicianship report judges an answer in). A setting
    /// without a call is returned as it is.
    pub fn answer_frame(&self) -> Setting {
        let calls = self.call_steps.min(self.length);
        let chords = if self.chords.is_empty() {
            Vec::new()
        } else {
            (calls..self.length)
                .map(|step| self.chords[step % self.chords.len()])
                .collect()
        };
        Setting {
            length: self.length - calls,
            chords,
            call_steps: 0,
            ..self.clone()
        }
    }

    /// The chord under `step`, if the task has a progression. Steps past the end of the
    /// progression wrap around, as a backing band would loop it.
    #[inline]
    pub fn chord_at(&self, step: usize) -> Option<&ChordFrame> {
        if self.chords.is_empty() {
            None
        } else {
            self.chords.get(step % self.chords.len())
        }
    }
}

/// What a reward sees on one step.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The musical frame.
    pub setting: &'a Setting,
    /// Index of this step in the episode (0-based).
    pub step: usize,
    /// Events chosen before this step, oldest first (`history.len() == step`).
    pub history: &'a [Event],
    /// The event chosen on this step.
    pub action: Event,
}

/// A reward made of named terms. See the module docs for the contract.
pub trait Reward: Send {
    /// Names of the terms, in the order [`Reward::step`] writes their values. Called when an
    /// environment is built, not per step.
    fn term_names(&self) -> Vec<String>;

    /// Clears all per-episode state. Called by the environment on every reset.
    fn reset(&mut self, setting: &Setting);

    /// Scores one step: writes one value per term into `terms` (its length is the number of
    /// names) and returns the total.
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64;

    /// Starts loading what the next step will read, where the reward's tables outgrow the
    /// caches (a prior's rows of probabilities). An agent that steps many envs in turn calls
    /// it for each env a while before stepping it, so that the loads of one overlap the work
    /// on the others. It must not change any result; rewards that hold other rewards
    /// forward it to them. The default does nothing.
    #[inline]
    fn prefetch(&self) {}

    /// [`Reward::step`], adding the seconds spent in its prior terms (learned models of
    /// example melodies paid as a reward) to `prior_seconds`, which stays `None` where there
    /// are none. Trainers call it on a sample of steps to report the prior's share of their
    /// time; rewards that hold other rewards forward it to them. The default, for a reward
    /// with no prior terms, is `step`.
    fn step_timing_priors(
        &mut self,
        ctx: &StepContext<'_>,
        terms: &mut [f64],
        prior_seconds: &mut Option<f64>,
    ) -> f64 {
        let _ = prior_seconds;
        self.step(ctx, terms)
    }
}

impl<R: Reward + ?Sized> Reward for Box<R> {
    fn term_names(&self) -> Vec<String> {
        (**self).term_names()
    }
    fn reset(&mut self, setting: &Setting) {
        (**self).reset(setting)
    }
    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        (**self).step(ctx, terms)
    }
    #[inline]
    fn prefetch(&self) {
        (**self).prefetch()
    }
    fn step_timing_priors(
        &mut self,
        ctx: &StepContext<'_>,
        terms: &mut [f64],
        prior_seconds: &mut Option<f64>,
    ) -> f64 {
        (**self).step_timing_priors(ctx, terms, prior_seconds)
    }
}

/// A reward of zero on every step, with no terms. Measures the environment alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZeroReward;

impl Reward for ZeroReward {
    fn term_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn reset(&mut self, _setting: &Setting) {}
    #[inline]
    fn step(&mut self, _ctx: &StepContext<'_>, _terms: &mut [f64]) -> f64 {
        0.0
    }
}

/// One simple term, `in_scale`: `-1` for a pitch outside the key's scale, else `0`.
#[derive(Debug, Clone, Copy, Default)]
pub struct InScaleReward;

impl Reward for InScaleReward {
    fn term_names(&self) -> Vec<String> {
        vec!["in_scale".to_string()]
    }
    fn reset(&mut self, _setting: &Setting) {}
    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let value = match ctx.setting.encoding.pitch_of(ctx.action) {
            Some(pitch) if ctx.setting.scale & (1 << (pitch % 12)) == 0 => -1.0,
            _ => 0.0,
        };
        terms[0] = value;
        value
    }
}

#[cfg(test)]
mod chord_frame_tests {
    use super::ChordFrame;
    use crate::music::{Chord, ChordQuality, PitchClass};

    #[test]
    fn per_step_holds_each_chord_until_the_next() {
        let c = Chord::new(PitchClass::wrapping(0), ChordQuality::Major);
        let g7 = Chord::new(PitchClass::wrapping(7), ChordQuality::Dominant7);
        let frames = ChordFrame::per_step(&[(2, c), (5, g7.clone())], 8);
        let roots: Vec<u8> = frames.iter().map(|f| f.root).collect();
        assert_eq!(roots, [0, 0, 0, 0, 0, 7, 7, 7]);
        assert_eq!(frames[6].index, 1);
        assert_eq!(frames[6].tones, g7.tones_mask());
        assert!(ChordFrame::per_step(&[], 8).is_empty());
    }
}
