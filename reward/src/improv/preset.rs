//! The `improv` preset: all improvisation terms, weighted, configured from TOML.

use super::cadence::{Cadence, CadenceParams};
use super::chord_scale::{ChordScaleMembership, ChordScaleMembershipParams};
use super::chord_tone::{ChordToneOnStrongBeat, ChordToneOnStrongBeatParams};
use super::contour::{Contour, ContourParams};
use super::error::{check_real, ImprovError, MAX_MAGNITUDE};
use super::fast_runs::{FastRuns, FastRunsParams};
use super::leap::{LeapRecovery, LeapRecoveryParams};
use super::motif::{MotifDevelopment, MotifDevelopmentParams};
use super::phrase::{PhraseBreath, PhraseBreathParams};
use super::pitch_variety::{PitchVariety, PitchVarietyParams};
use super::range::{RangeTessitura, RangeTessituraParams};
use super::resolution::{NonChordToneResolution, NonChordToneResolutionParams};
use super::rhythm::{RhythmicVariety, RhythmicVarietyParams};
use super::table::{IMPROV_TERM_COUNT, IMPROV_TERM_NAMES};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// A term's weight in the preset together with its parameters.
///
/// In TOML (or any serde format) both sit side by side in one table:
/// `weight = 0.5` next to the parameter fields. A missing `weight` is `1.0`, missing
/// parameters take their defaults, and unknown fields are errors naming the field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weighted<P> {
    /// Factor applied to the term's value (0..=100; 0 switches the term off).
    pub weight: f64,
    /// The term's parameters.
    pub params: P,
}

impl<P: Default> Default for Weighted<P> {
    fn default() -> Self {
        Self {
            weight: 1.0,
            params: P::default(),
        }
    }
}

impl<P: Serialize> Serialize for Weighted<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a, P> {
            weight: f64,
            #[serde(flatten)]
            params: &'a P,
        }
        Flat {
            weight: self.weight,
            params: &self.params,
        }
        .serialize(serializer)
    }
}

impl<'de, P: DeserializeOwned> Deserialize<'de> for Weighted<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WeightedVisitor(PhantomData))
    }
}

/// Reads a section's map, taking `weight` out and handing every other entry straight to the
/// parameters' own (derived, `deny_unknown_fields`) deserializer. Going through the original
/// map access rather than an intermediate value keeps the format's error positions, so a
/// mistyped or unknown field is reported where it is written. (`#[serde(flatten)]` would
/// silently accept unknown fields instead.)
struct WeightedVisitor<P>(PhantomData<P>);

impl<'de, P: DeserializeOwned> Visitor<'de> for WeightedVisitor<P> {
    type Value = Weighted<P>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of `weight` and the term's parameters")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut weight = None;
        let params = P::deserialize(de::value::MapAccessDeserializer::new(WithoutWeight {
            inner: map,
            weight: &mut weight,
        }))?;
        Ok(Weighted {
            weight: weight.unwrap_or(1.0),
            params,
        })
    }
}

/// A map access that hides the `weight` entry, storing it on the side.
struct WithoutWeight<'w, A> {
    inner: A,
    weight: &'w mut Option<f64>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithoutWeight<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        loop {
            let Some(key) = self.inner.next_key::<String>()? else {
                return Ok(None);
            };
            if key == "weight" {
                if self.weight.is_some() {
                    return Err(de::Error::duplicate_field("weight"));
                }
                *self.weight = Some(self.inner.next_value()?);
                continue;
            }
            let key: de::value::StringDeserializer<A::Error> = key.into_deserializer();
            return seed.deserialize(key).map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner.next_value_seed(seed)
    }
}

/// Weights and parameters of the `improv` preset's terms: one section per term, each a
/// [`Weighted`] set of parameters. Missing sections and fields take their defaults; unknown
/// ones are errors. (The `improv` *task*'s configuration, key, chords and meter, is
/// `cadenza_env::improv::ImprovConfig`.)
///
/// ```
/// use cadenza_reward::improv::ImprovWeights;
/// let config = ImprovWeights::from_toml_str(
///     "[chord_tone_on_strong_beat]\nweight = 2.0\nstrong_reward = 0.5\n",
/// )
/// .unwrap();
/// assert_eq!(config.chord_tone_on_strong_beat.weight, 2.0);
/// assert_eq!(config.chord_tone_on_strong_beat.params.strong_reward, 0.5);
/// let err = ImprovWeights::from_toml_str("[cadence]\ntonic_reward = -1.0\n").unwrap_err();
/// assert!(err.to_string().contains("cadence.tonic_reward"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImprovWeights {
    /// Chord tones on strong beats ([`ChordToneOnStrongBeat`]).
    pub chord_tone_on_strong_beat: Weighted<ChordToneOnStrongBeatParams>,
    /// Chord-scale membership ([`ChordScaleMembership`]).
    pub chord_scale: Weighted<ChordScaleMembershipParams>,
    /// Resolution of non-chord tones ([`NonChordToneResolution`]).
    pub non_chord_tone_resolution: Weighted<NonChordToneResolutionParams>,
    /// Recovery after leaps ([`LeapRecovery`]).
    pub leap_recovery: Weighted<LeapRecoveryParams>,
    /// Range and tessitura ([`RangeTessitura`]).
    pub range_tessitura: Weighted<RangeTessituraParams>,
    /// Contour ([`Contour`]).
    pub contour: Weighted<ContourParams>,
    /// Rhythmic variety and syncopation ([`RhythmicVariety`]).
    pub rhythmic_variety: Weighted<RhythmicVarietyParams>,
    /// Phrase structure ([`PhraseBreath`]).
    pub phrase_breath: Weighted<PhraseBreathParams>,
    /// Motif development ([`MotifDevelopment`]).
    pub motif_development: Weighted<MotifDevelopmentParams>,
    /// Cadence ([`Cadence`]).
    pub cadence: Weighted<CadenceParams>,
    /// Pitch variety: no trills, drones or loops ([`PitchVariety`]).
    pub pitch_variety: Weighted<PitchVarietyParams>,
    /// Fast runs: no wall of the shortest note value ([`FastRuns`]).
    pub fast_runs: Weighted<FastRunsParams>,
}

impl ImprovWeights {
    /// Parses a TOML document and validates it.
    pub fn from_toml_str(text: &str) -> Result<Self, ImprovError> {
        let config: Self = toml::from_str(text).map_err(|e| ImprovError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Writes the configuration as TOML (every section and field, defaults included).
    pub fn to_toml_string(&self) -> Result<String, ImprovError> {
        toml::to_string(self).map_err(|e| ImprovError::Config(e.to_string()))
    }

    /// The weights, in the order of [`IMPROV_TERM_NAMES`].
    pub fn weights(&self) -> [f64; IMPROV_TERM_COUNT] {
        [
            self.chord_tone_on_strong_beat.weight,
            self.chord_scale.weight,
            self.non_chord_tone_resolution.weight,
            self.leap_recovery.weight,
            self.range_tessitura.weight,
            self.contour.weight,
            self.rhythmic_variety.weight,
            self.phrase_breath.weight,
            self.motif_development.weight,
            self.cadence.weight,
            self.pitch_variety.weight,
            self.fast_runs.weight,
        ]
    }

    /// Sets the weights, in the order of [`IMPROV_TERM_NAMES`] (parameters unchanged).
    pub fn set_weights(&mut self, weights: [f64; IMPROV_TERM_COUNT]) {
        let [w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11] = weights;
        self.chord_tone_on_strong_beat.weight = w0;
        self.chord_scale.weight = w1;
        self.non_chord_tone_resolution.weight = w2;
        self.leap_recovery.weight = w3;
        self.range_tessitura.weight = w4;
        self.contour.weight = w5;
        self.rhythmic_variety.weight = w6;
        self.phrase_breath.weight = w7;
        self.motif_development.weight = w8;
        self.cadence.weight = w9;
        self.pitch_variety.weight = w10;
        self.fast_runs.weight = w11;
    }

    /// Checks every weight and parameter; errors name the field as `section.field`.
    pub fn validate(&self) -> Result<(), ImprovError> {
        for (name, weight) in IMPROV_TERM_NAMES.iter().zip(self.weights()) {
            check_real("weight", weight, 0.0, MAX_MAGNITUDE).map_err(|e| e.in_section(name))?;
        }
        let results = [
            self.chord_tone_on_strong_beat.params.validate(),
            self.chord_scale.params.validate(),
            self.non_chord_tone_resolution.params.validate(),
            self.leap_recovery.params.validate(),
            self.range_tessitura.params.validate(),
            self.contour.params.validate(),
            self.rhythmic_variety.params.validate(),
            self.phrase_breath.params.validate(),
            self.motif_development.params.validate(),
            self.cadence.params.validate(),
            self.pitch_variety.params.validate(),
            self.fast_runs.params.validate(),
        ];
        for (name, result) in IMPROV_TERM_NAMES.iter().zip(results) {
            result.map_err(|e| e.in_section(name))?;
        }
        Ok(())
    }
}

/// The `improv` preset: every improvisation term, weighted, as one [`Reward`].
///
/// Terms are reported under their plain names ([`IMPROV_TERM_NAMES`]) and each reported
/// value is already weighted, so the values of a step add up to its total. A term with
/// weight `0` is skipped entirely (it reports `0` and costs nothing).
///
/// The default preset weighs every term `1.0`; the balance between terms lives in the
/// defaults of their parameters.
#[derive(Debug, Clone)]
pub struct ImprovReward {
    weights: [f64; IMPROV_TERM_COUNT],
    chord_tone_on_strong_beat: ChordToneOnStrongBeat,
    chord_scale: ChordScaleMembership,
    non_chord_tone_resolution: NonChordToneResolution,
    leap_recovery: LeapRecovery,
    range_tessitura: RangeTessitura,
    contour: Contour,
    rhythmic_variety: RhythmicVariety,
    phrase_breath: PhraseBreath,
    motif_development: MotifDevelopment,
    cadence: Cadence,
    pitch_variety: PitchVariety,
    fast_runs: FastRuns,
}

impl Default for ImprovReward {
    fn default() -> Self {
        Self::preset()
    }
}

impl ImprovReward {
    /// The preset with default weights and parameters.
    pub fn preset() -> Self {
        Self::new(&ImprovWeights::default()).expect("the default configuration is valid")
    }

    /// The preset under a configuration, after checking it.
    pub fn new(config: &ImprovWeights) -> Result<Self, ImprovError> {
        config.validate()?;
        // Parameters were validated above (with section names); constructing cannot fail.
        Ok(Self {
            weights: config.weights(),
            chord_tone_on_strong_beat: ChordToneOnStrongBeat::new(
                config.chord_tone_on_strong_beat.params,
            )
            .map_err(section(ChordToneOnStrongBeat::NAME))?,
            chord_scale: ChordScaleMembership::new(config.chord_scale.params)
                .map_err(section(ChordScaleMembership::NAME))?,
            non_chord_tone_resolution: NonChordToneResolution::new(
                config.non_chord_tone_resolution.params,
            )
            .map_err(section(NonChordToneResolution::NAME))?,
            leap_recovery: LeapRecovery::new(config.leap_recovery.params)
                .map_err(section(LeapRecovery::NAME))?,
            range_tessitura: RangeTessitura::new(config.range_tessitura.params)
                .map_err(section(RangeTessitura::NAME))?,
            contour: Contour::new(config.contour.params).map_err(section(Contour::NAME))?,
            rhythmic_variety: RhythmicVariety::new(config.rhythmic_variety.params)
                .map_err(section(RhythmicVariety::NAME))?,
            phrase_breath: PhraseBreath::new(config.phrase_breath.params)
                .map_err(section(PhraseBreath::NAME))?,
            motif_development: MotifDevelopment::new(config.motif_development.params)
                .map_err(section(MotifDevelopment::NAME))?,
            cadence: Cadence::new(config.cadence.params).map_err(section(Cadence::NAME))?,
            pitch_variety: PitchVariety::new(config.pitch_variety.params)
                .map_err(section(PitchVariety::NAME))?,
            fast_runs: FastRuns::new(config.fast_runs.params).map_err(section(FastRuns::NAME))?,
        })
    }

    /// The weights, in the order of [`IMPROV_TERM_NAMES`].
    pub fn weights(&self) -> &[f64; IMPROV_TERM_COUNT] {
        &self.weights
    }

    /// The motif term, e.g. to inspect how many notes it remembers.
    pub fn motif_development(&self) -> &MotifDevelopment {
        &self.motif_development
    }

    /// The rhythm term, e.g. to inspect how many intervals it remembers.
    pub fn rhythmic_variety(&self) -> &RhythmicVariety {
        &self.rhythmic_variety
    }

    /// The terms as trait objects, in the order of [`IMPROV_TERM_NAMES`]. Statically
    /// dispatched in [`Reward::step`]; this is for the cold paths.
    fn terms_mut(&mut self) -> [&mut dyn Reward; IMPROV_TERM_COUNT] {
        [
            &mut self.chord_tone_on_strong_beat,
            &mut self.chord_scale,
            &mut self.non_chord_tone_resolution,
            &mut self.leap_recovery,
            &mut self.range_tessitura,
            &mut self.contour,
            &mut self.rhythmic_variety,
            &mut self.phrase_breath,
            &mut self.motif_development,
            &mut self.cadence,
            &mut self.pitch_variety,
            &mut self.fast_runs,
        ]
    }
}

/// Prefixes errors with a section name.
fn section(name: &'static str) -> impl Fn(ImprovError) -> ImprovError {
    move |e| e.in_section(name)
}

/// Steps one term into its slot, weighted; skipped when the weight is zero.
#[inline]
fn weighted_step<R: Reward>(
    term: &mut R,
    weight: f64,
    ctx: &StepContext<'_>,
    slot: Option<&mut f64>,
) -> f64 {
    let value = if weight == 0.0 {
        0.0
    } else {
        let mut one = [0.0];
        weight * term.step(ctx, &mut one)
    };
    if let Some(slot) = slot {
        *slot = value;
    }
    value
}

impl Reward for ImprovReward {
    fn term_names(&self) -> Vec<String> {
        IMPROV_TERM_NAMES.iter().map(|s| s.to_string()).collect()
    }

    fn reset(&mut self, setting: &Setting) {
        for term in self.terms_mut() {
            term.reset(setting);
        }
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let w = self.weights;
        let mut slots = terms.iter_mut();
        let mut total = 0.0;
        total += weighted_step(&mut self.chord_tone_on_strong_beat, w[0], ctx, slots.next());
        total += weighted_step(&mut self.chord_scale, w[1], ctx, slots.next());
        total += weighted_step(&mut self.non_chord_tone_resolution, w[2], ctx, slots.next());
        total += weighted_step(&mut self.leap_recovery, w[3], ctx, slots.next());
        total += weighted_step(&mut self.range_tessitura, w[4], ctx, slots.next());
        total += weighted_step(&mut self.contour, w[5], ctx, slots.next());
        total += weighted_step(&mut self.rhythmic_variety, w[6], ctx, slots.next());
        total += weighted_step(&mut self.phrase_breath, w[7], ctx, slots.next());
        total += weighted_step(&mut self.motif_development, w[8], ctx, slots.next());
        total += weighted_step(&mut self.cadence, w[9], ctx, slots.next());
        total += weighted_step(&mut self.pitch_variety, w[10], ctx, slots.next());
        total += weighted_step(&mut self.fast_runs, w[11], ctx, slots.next());
        total
    }
}
