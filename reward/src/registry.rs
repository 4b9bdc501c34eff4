//! Rewards by name: presets, and reward definitions in TOML.
//!
//! Presets: `rl-tuner` (Magenta RL Tuner's `reward_music_theory`, exactly: a reference whose
//! optimum is not music), `rl-tuner+` (Magenta's rules with what their optimum gets wrong
//! fixed: [`RL_TUNER_PLUS`]), `improv` (the harmony-aware improvisation terms), `duet` (the
//! improvisation terms and the answer terms of [`crate::duet`]), `rl-tuner-kl` (the theory
//! half of KL-controlled fine-tuning: [`RL_TUNER_KL`]), `in-scale` (one simple term) and
//! `zero`.
//!
//! A reward definition is a TOML file whose sections are the parts of a weighted sum, in
//! order. A section is named after a component; `weight` (default 1, at most 1e6 either way)
//! scales it, every other key is a parameter of that component, and unknown keys are errors
//! that name them:
//!
//! ```toml
//! [rl_tuner]                    # Magenta's nine terms (parameters: RlTunerConfig)
//! weight = 1.0
//!
//! [corpus]                      # log-probability under an n-gram corpus model
//! weight = 0.5
//! model = "oneills.json"        # relative to this file; made by `cadenza corpus fit`
//! floor = -10.0
//!
//! [style]                       # log-probability under the chord-conditioned style prior
//! weight = 0.5                  # (model = "style.json" from `cadenza corpus fit --kind
//!                               # style`; without it, the model shipped with Cadenza)
//! part = "pitch"                # "all" (default): log P(event); "pitch": only new notes'
//!                               # pitches, against a uniform choice
//!
//! [chord_tone_on_strong_beat]   # any single improvisation term, with its parameters
//! weight = 2.0
//! strong_reward = 1.0
//! ```
//!
//! Components: `rl_tuner`, `improv` (the whole preset; its terms as nested sections),
//! `corpus`, `style` (see [`crate::style`]), `listener` (a saved listener model, `model = "taste.json"`, scored at phrase
//! ends; see [`crate::listener`]), `in_scale`, `zero`, and each improvisation term by name
//! ([`crate::improv::IMPROV_TERM_NAMES`]) or answer term ([`crate::duet::DUET_TERMS`]).

use crate::combine::{CombineError, WeightedSum, MAX_WEIGHT};
use crate::corpus::{CorpusReward, NgramModel};
use crate::improv::{self, params_from_toml as params, ImprovReward};
use crate::rl_tuner::{RlTunerConfig, RlTunerReward};
use crate::style::{StyleModel, StyleReward};
use cadenza_env::{InScaleReward, Reward, ZeroReward};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Names of the built-in presets.
pub const PRESET_NAMES: &[&str] = &[
    "rl-tuner",
    "rl-tuner+",
    "improv",
    "duet",
    "rl-tuner-kl",
    "in-scale",
    "zero",
];

/// The `rl-tuner+` preset: Magenta's rules with what their optimum gets wrong fixed, as a
/// reward definition (see the module docs). It is the `rl-tuner` task's front-door reward:
/// `train --task rl-tuner` uses it, with the agent settings of its recipe, unless `--reward`
/// names another; `docs/musicianship.md` has what it writes.
pub const RL_TUNER_PLUS: &str = r#"# Magenta's nine terms, with an out-of-key note charged 6 instead of 1: the autocorrelation
# penalty on raw event numbers made one out-of-key note pay (docs/q-learning.md), and an
# optimizer played it.
[rl_tuner]
key_penalty = -6.0

# What Magenta's rules let an optimizer do: loop a short figure, fill every step with a
# sixteenth, and leap about (its motif and interval terms pay for distinct pitches; a
# recovered leap still costs here, five times the improv preset's weight).
[pitch_variety]
[fast_runs]
[leap_recovery]
weight = 5.0

# What they do not ask for: the harmony. Magenta's task is in C major with no chords, so the
# tonic triad is the harmony; its tones on the strong beats, and other notes approached or
# left by step (its motif and interval terms otherwise pay for any distinct pitches).
[chord_tone_on_strong_beat]
weight = 2.0
[non_chord_tone_resolution]
weight = 2.0
"#;

/// The `rl-tuner-kl` preset: the theory half of KL-controlled fine-tuning's reward (`train
/// --agent ppo --prior`, `docs/learning-from-examples.md`), Magenta's nine terms with the
/// unique highest / lowest note reward raised from 3 to 20. It is paid beside the prior's
/// log-probability, whose pull keeps the melodies near the corpus; without the prior its
/// optimum is Magenta's kind, not music.
pub const RL_TUNER_KL: &str = r#"# Magenta's nine terms; a melody's unique highest and lowest notes pay 20 instead of 3, so
# that the pull of the prior does not wash that rule out.
[rl_tuner]
high_low_unique_reward = 20.0
"#;

/// Names of the components a TOML reward definition may use, besides the single
/// improvisation terms.
pub const COMPONENT_NAMES: &[&str] = &[
    "rl_tuner", "improv", "corpus", "style", "listener", "in_scale", "zero",
];

/// Errors of reward lookup and definition.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An unknown preset name.
    #[error("unknown reward preset '{name}': expected one of {}, or a path to a .toml reward definition", PRESET_NAMES.join(", "))]
    UnknownPreset {
        /// The name given.
        name: String,
    },
    /// An unknown component in a reward definition.
    #[error("{file}: unknown reward component [{name}]: expected one of {}, {}", COMPONENT_NAMES.join(", "), improv::IMPROV_TERM_NAMES.join(", "))]
    UnknownComponent {
        /// The definition file.
        file: String,
        /// The section name.
        name: String,
    },
    /// A definition file that cannot be read.
    #[error("cannot read reward definition {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A definition that is not valid TOML or has a bad field.
    #[error("{file}: {message}")]
    Invalid {
        /// The definition file.
        file: String,
        /// What is wrong, naming the section and field.
        message: String,
    },
    /// The parts cannot be combined.
    #[error("{file}: {source}")]
    Combine {
        /// The definition file.
        file: String,
        /// The cause.
        source: CombineError,
    },
}

/// The default reward preset of a task.
pub fn default_preset(task: &str) -> &'static str {
    if task == "improv" {
        "improv"
    } else if task == "duet" {
        "duet"
    } else {
        "rl-tuner"
    }
}

/// A preset by name.
pub fn preset(name: &str) -> Result<Box<dyn Reward>, RegistryError> {
    match name {
        "rl-tuner" => Ok(Box::new(RlTunerReward::default())),
        "rl-tuner+" => Ok(Box::new(
            from_toml_str(RL_TUNER_PLUS, Path::new("."), "the rl-tuner+ preset")
                .expect("the rl-tuner+ preset is a valid definition"),
        )),
        "rl-tuner-kl" => Ok(Box::new(
            from_toml_str(RL_TUNER_KL, Path::new("."), "the rl-tuner-kl preset")
                .expect("the rl-tuner-kl preset is a valid definition"),
        )),
        "improv" => Ok(Box::new(ImprovReward::preset())),
        "duet" => Ok(Box::new(
            from_toml_str(crate::duet::DUET_PRESET, Path::new("."), "the duet preset")
                .expect("the duet preset is a valid definition"),
        )),
        "in-scale" => Ok(Box::new(InScaleReward)),
        "zero" => Ok(Box::new(ZeroReward)),
        _ => Err(RegistryError::UnknownPreset {
            name: name.to_string(),
        }),
    }
}

/// A reward by preset name or path to a `.toml` definition; `None` picks the task's default.
pub fn load(spec: Option<&str>, task: &str) -> Result<Box<dyn Reward>, RegistryError> {
    let name = spec.unwrap_or_else(|| default_preset(task));
    if name.ends_with(".toml") || (Path::new(name).is_file() && !PRESET_NAMES.contains(&name)) {
        return Ok(Box::new(from_toml_file(Path::new(name))?));
    }
    preset(name)
}

/// A reward from a TOML definition file (see the module docs).
pub fn from_toml_file(path: &Path) -> Result<WeightedSum, RegistryError> {
    let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    from_toml_str(&text, &base, &path.display().to_string())
}

/// A reward from TOML text; relative paths inside resolve against `base`; `file` names the
/// source in errors.
pub fn from_toml_str(text: &str, base: &Path, file: &str) -> Result<WeightedSum, RegistryError> {
    let invalid = |message: String| RegistryError::Invalid {
        file: file.to_string(),
        message,
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| invalid(e.to_string()))?;
    let mut sum = WeightedSum::new();
    for (name, value) in table {
        let mut section = match value {
            toml::Value::Table(t) => t,
            _ => {
                return Err(invalid(format!(
                    "'{name}' must be a section ([{name}]) holding weight and parameters"
                )))
            }
        };
        let weight = match section.remove("weight") {
            None => 1.0,
            Some(toml::Value::Float(w)) => w,
            Some(toml::Value::Integer(w)) => w as f64,
            Some(other) => {
                return Err(invalid(format!(
                    "[{name}] weight = {other}: expected a number"
                )))
            }
        };
        if !(weight.is_finite() && weight.abs() <= MAX_WEIGHT) {
            return Err(invalid(format!(
                "[{name}] weight = {weight}: expected a finite number in [-{MAX_WEIGHT:e}, {MAX_WEIGHT:e}]"
            )));
        }
        let reward = component(&name, section, base)
            .map_err(|message| invalid(format!("[{name}] {message}")))?
            .ok_or_else(|| RegistryError::UnknownComponent {
                file: file.to_string(),
                name: name.clone(),
            })?;
        sum.push(&name, weight, reward)
            .map_err(|source| RegistryError::Combine {
                file: file.to_string(),
                source,
            })?;
    }
    Ok(sum)
}

fn no_params(section: &toml::Table) -> Result<(), String> {
    match section.keys().next() {
        Some(key) => Err(format!(
            "unknown field '{key}': this component takes only 'weight'"
        )),
        None => Ok(()),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusParams {
    model: PathBuf,
    #[serde(default = "default_floor")]
    floor: f64,
}

/// `[style]`: the chord-conditioned style prior; without `model`, the shipped one.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleParams {
    model: Option<PathBuf>,
    #[serde(default = "default_floor")]
    floor: f64,
    #[serde(default)]
    part: crate::style::StylePart,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerParams {
    model: PathBuf,
}

fn default_floor() -> f64 {
    CorpusReward::DEFAULT_FLOOR
}

/// The file a definition's `model = "..."` names: relative paths resolve against the
/// definition's folder.
fn model_path(base: &Path, model: PathBuf) -> PathBuf {
    if model.is_absolute() {
        model
    } else {
        base.join(model)
    }
}

/// Builds one component; `Ok(None)` for an unknown name.
fn component(
    name: &str,
    section: toml::Table,
    base: &Path,
) -> Result<Option<Box<dyn Reward>>, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let reward: Box<dyn Reward> = match name {
        "rl_tuner" => {
            let config: RlTunerConfig = params(section)?;
            Box::new(RlTunerReward::new(config).map_err(|e| err(&e))?)
        }
        "improv" => {
            let config: improv::ImprovWeights = params(section)?;
            Box::new(ImprovReward::new(&config).map_err(|e| err(&e))?)
        }
        "corpus" => {
            let p: CorpusParams = params(section)?;
            let path = model_path(base, p.model);
            let model = NgramModel::load(&path).map_err(|e| err(&e))?;
            Box::new(
                CorpusReward::new(Arc::new(model))
                    .with_floor(p.floor)
                    .map_err(|e| err(&e))?,
            )
        }
        "style" => {
            let p: StyleParams = params(section)?;
            let model = match p.model {
                Some(model) => {
                    Arc::new(StyleModel::load(model_path(base, model)).map_err(|e| err(&e))?)
                }
                None => StyleModel::builtin(),
            };
            Box::new(
                StyleReward::new(model)
                    .with_part(p.part)
                    .with_floor(p.floor)
                    .map_err(|e| err(&e))?,
            )
        }
        "listener" => {
            let p: ListenerParams = params(section)?;
            let path = model_path(base, p.model);
            let model = crate::listener::ListenerModel::load(&path).map_err(|e| err(&e))?;
            Box::new(crate::listener::ListenerReward::new(Arc::new(model)).map_err(|e| err(&e))?)
        }
        "in_scale" => {
            no_params(&section)?;
            Box::new(InScaleReward)
        }
        "zero" => {
            no_params(&section)?;
            Box::new(ZeroReward)
        }
        _ => match improv::TermEntry::find(name).or_else(|| crate::duet::find_term(name)) {
            Some(term) => term.with_params(section)?,
            None => return Ok(None),
        },
    };
    Ok(Some(reward))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WeightedSum, RegistryError> {
        from_toml_str(text, Path::new("."), "test.toml")
    }

    #[test]
    fn the_duet_preset_and_sections_find_the_answer_terms() {
        let names = preset("duet").unwrap().term_names();
        assert!(names.contains(&"call_motif".to_string()), "{names:?}");
        assert!(names.contains(&"improv.cadence".to_string()), "{names:?}");
        assert_eq!(default_preset("duet"), "duet");
        let sum =
            parse("[call_rhythm]\nbusy_fraction = 0.5\n[call_motif]\ncell_notes = 4").unwrap();
        assert_eq!(sum.term_names(), ["call_rhythm", "call_motif"]);
        let err = parse("[call_motif]\ncell_notes = 9")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cell_notes"), "{err}");
    }

    #[test]
    fn presets_build_and_unknown_lists_names() {
        for name in PRESET_NAMES {
            preset(name).unwrap();
        }
        let err = preset("rl_tunr").err().unwrap().to_string();
        assert!(err.contains("rl-tuner, rl-tuner+, improv"), "{err}");
    }

    #[test]
    fn rl_tuner_plus_charges_what_magentas_optimum_plays() {
        use crate::score::score_melody;
        let setting = cadenza_env::Setting::rl_tuner();
        let mut plus = preset("rl-tuner+").unwrap();
        let names = plus.term_names();
        for term in [
            "rl_tuner.key",
            "pitch_variety",
            "fast_runs",
            "leap_recovery",
        ] {
            assert!(names.iter().any(|n| n == term), "{term} in {names:?}");
        }
        let key = names.iter().position(|n| n == "rl_tuner.key").unwrap();
        // C4 D4 E4 F4 in eighths, then the same with F#4 for F4: the out-of-key note costs 6.
        let line: Vec<u8> = [14u8, 1, 16, 1, 18, 1, 19, 1].repeat(4);
        let mut sharp = line.clone();
        sharp[6] = 20;
        let key_total = |events: &[u8], reward: &mut Box<dyn Reward>| {
            let scored = score_melody(reward.as_mut(), &setting, events);
            scored.steps.iter().map(|s| s.terms[key]).sum::<f64>()
        };
        assert_eq!(
            key_total(&sharp, &mut plus) - key_total(&line, &mut plus),
            -6.0
        );
        // A trill in sixteenths, which Magenta's rules let pass, pays heavily here.
        let trill: Vec<u8> = [26u8, 25, 26, 28].repeat(8);
        let total =
            |reward: &mut Box<dyn Reward>| score_melody(reward.as_mut(), &setting, &trill).total;
        let mut magenta = preset("rl-tuner").unwrap();
        let (magenta, plus) = (total(&mut magenta), total(&mut plus));
        assert!(
            plus + 40.0 < magenta,
            "rl-tuner+ {plus}, rl-tuner {magenta}"
        );
    }

    #[test]
    fn toml_definition_combines_parts() {
        let sum = parse(
            "[rl_tuner]\nweight = 0.5\n\n[chord_tone_on_strong_beat]\nweight = 2\n\n[in_scale]\n",
        )
        .unwrap();
        let names = sum.term_names();
        assert_eq!(names.len(), 9 + 1 + 1);
        assert_eq!(names[0], "rl_tuner.key");
        assert!(names.contains(&"chord_tone_on_strong_beat".to_string()));
    }

    #[test]
    fn bad_definitions_name_what_is_wrong() {
        for (text, needle) in [
            ("[rl_tunr]\n", "rl_tunr"),
            ("[rl_tuner]\nweight = \"x\"\n", "weight"),
            ("[rl_tuner]\nweight = nan\n", "finite"),
            ("[rl_tuner]\nweight = 1e308\n", "[-1e6, 1e6]"),
            ("[in_scale]\nweight = -2e6\n", "[in_scale] weight"),
            ("[rl_tuner]\ntonic_rewrd = 1.0\n", "tonic_rewrd"),
            ("[in_scale]\nfoo = 1\n", "foo"),
            ("[corpus]\nmodel = \"missing.json\"\n", "missing.json"),
            ("[listener]\nmodel = \"missing.json\"\n", "missing.json"),
            ("[style]\nmodel = \"missing.json\"\n", "missing.json"),
            ("[style]\nfloor = nan\n", "floor"),
            ("[style]\nmodl = \"x.json\"\n", "modl"),
            ("[style]\npart = \"rhythm\"\n", "rhythm"),
            ("[listener]\nmodl = \"x.json\"\n", "modl"),
            ("weight = 1\n", "section"),
            ("[rl_tuner\n", "test.toml"),
        ] {
            let err = parse(text).err().unwrap().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn style_section_defaults_to_the_shipped_model() {
        let sum = parse("[style]\nweight = 0.5\n").unwrap();
        assert_eq!(sum.term_names(), ["style_log_prob"]);
    }
}
