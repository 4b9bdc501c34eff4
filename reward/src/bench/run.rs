//! Running a bench, phase by phase: prepare the melodies, corrupt them, check the rewards,
//! time them, score every version of every melody, then judge each term's discrimination
//! and the terms' agreement.

use super::builtin::known_caveat;
use super::config::BenchConfig;
use super::corrupt::{self, CorruptError, Corruption};
use super::error::{BenchError, Skipped};
use super::melody::{Frame, Melody, ENCODING};
use super::report::{BenchReport, Correlation, CorruptionReport, Failure, TermReport};
use super::setup::{Bench, Column, Subject, TermSpec};
use super::stats;
use crate::score::play_episode;
use cadenza_env::encoding::Event;
use cadenza_env::Setting;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

impl Bench {
    /// Runs the bench over `melodies` (see the module docs). Melodies that cannot be scored
    /// and rewards that misbehave are left out and listed in the report; it fails only when
    /// no melody or no term is left.
    pub fn run(&self, melodies: &[Melody]) -> Result<BenchReport, BenchError> {
        let started = Instant::now();
        let cfg = &self.config;
        if self.subjects.is_empty() {
            return Err(BenchError::NoTerms);
        }
        let mut skipped = Vec::new();
        let prepared = self.prepare_melodies(melodies, &mut skipped)?;
        let versions = corrupt_melodies(cfg, &prepared);
        let corruptions = report_corruptions(cfg, &prepared, &versions);
        let subjects = self.usable_subjects(&mut skipped)?;
        let real_steps: usize = prepared.iter().map(|p| p.melody.events.len()).sum();
        let speeds = time_subjects(cfg, &subjects, &prepared, real_steps);
        let scored = score_terms(&subjects, &prepared, &versions);
        let terms: Vec<TermReport> = scored
            .par_iter()
            .enumerate()
            .map(|(k, term)| judge_term(cfg, k, term, speeds[term.subject_index]))
            .collect();
        let correlation = agreement(&scored, &versions);
        let failures = terms.iter().flat_map(|t| t.failures.clone()).collect();
        Ok(BenchReport {
            melodies: prepared.len(),
            steps: real_steps,
            config: cfg.clone(),
            corruptions,
            terms,
            correlation,
            failures,
            exploit_failures: Vec::new(),
            skipped,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The melodies that can be scored, cut to `max_steps`, each with its settings; the
    /// others go to `skipped`. Fails when none is left.
    fn prepare_melodies(
        &self,
        melodies: &[Melody],
        skipped: &mut Vec<Skipped>,
    ) -> Result<Vec<Prepared>, BenchError> {
        let cfg = &self.config;
        let needs_improv = self.subjects.iter().any(|s| s.frame == Frame::Improv);
        let mut templates: HashMap<TemplateKey, Result<Setting, String>> = HashMap::new();
        let mut prepared = Vec::new();
        for melody in melodies.iter().take(cfg.max_melodies.unwrap_or(usize::MAX)) {
            if let Err(e) = melody.validate() {
                skipped.push(Skipped {
                    item: melody.name.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
            let mut melody = melody.clone();
            melody.events.truncate(cfg.max_steps);
            if melody.events.is_empty() {
                skipped.push(Skipped {
                    item: melody.name.clone(),
                    reason: "no steps".to_string(),
                });
                continue;
            }
            let length = melody.events.len();
            let rl = Setting {
                length,
                ..Setting::rl_tuner()
            };
            let improv = if needs_improv {
                let key = (melody.minor, melody.meter, melody.steps_per_quarter);
                let template = templates
                    .entry(key)
                    .or_insert_with(|| drone_setting(&melody));
                match template {
                    Ok(t) => Some(Setting {
                        length,
                        ..t.clone()
                    }),
                    Err(e) => {
                        skipped.push(Skipped {
                            item: melody.name.clone(),
                            reason: format!("no improv setting for it: {e}"),
                        });
                        continue;
                    }
                }
            } else {
                None
            };
            prepared.push(Prepared { melody, rl, improv });
        }
        if prepared.is_empty() {
            return Err(BenchError::NoMelodies {
                reason: match skipped.first() {
                    Some(s) => format!(
                        "{} left out, the first {}: {}",
                        skipped.len(),
                        s.item,
                        s.reason
                    ),
                    None => "none given".to_string(),
                },
            });
        }
        Ok(prepared)
    }

    /// The subjects whose rewards have every term their specs read; the others go to
    /// `skipped`. Fails when none is left.
    fn usable_subjects(&self, skipped: &mut Vec<Skipped>) -> Result<Vec<&Subject>, BenchError> {
        let mut subjects = Vec::new();
        for s in &self.subjects {
            let reward = (s.factory)();
            let count = reward.term_names().len();
            match s.terms.iter().find_map(|t| match t.column {
                Column::Term(i) if i >= count => Some(i),
                _ => None,
            }) {
                Some(i) => skipped.push(Skipped {
                    item: s.name.clone(),
                    reason: format!("reads term {i}, but the reward has only {count} terms"),
                }),
                None => subjects.push(s),
            }
        }
        if subjects.is_empty() {
            return Err(BenchError::NoTerms);
        }
        Ok(subjects)
    }
}

/// A melody ready to score: cut to `max_steps`, with its setting in each frame.
struct Prepared {
    melody: Melody,
    rl: Setting,
    /// The improv frame's setting; `None` when no subject scores in that frame.
    improv: Option<Setting>,
}

impl Prepared {
    fn setting(&self, frame: Frame) -> &Setting {
        match (frame, &self.improv) {
            (Frame::Improv, Some(s)) => s,
            _ => &self.rl,
        }
    }
}

/// Melodies share an improv setting when mode, meter and grid agree.
type TemplateKey = (bool, (u8, u8), u32);

/// The events of every version of every melody, `[version][melody]`: version 0 is the real
/// melody, version `1 + c` its corruption by the run's `c`-th corruption (`None` where that
/// corruption does not apply).
type Versions = Vec<Vec<Option<Vec<Event>>>>;

fn corrupt_melodies(cfg: &BenchConfig, prepared: &[Prepared]) -> Versions {
    let real = prepared
        .iter()
        .map(|p| Some(p.melody.events.clone()))
        .collect();
    std::iter::once(real)
        .chain(cfg.corruptions.iter().enumerate().map(|(ci, &c)| {
            prepared
                .par_iter()
                .enumerate()
                .map(|(mi, p)| corrupt_melody(cfg, ci, c, mi, &p.melody).ok())
                .collect()
        }))
        .collect()
}

/// Melody `mi` spoilt by corruption `c`, the run's `ci`-th, from a stream of its own.
fn corrupt_melody(
    cfg: &BenchConfig,
    ci: usize,
    c: Corruption,
    mi: usize,
    melody: &Melody,
) -> Result<Vec<Event>, CorruptError> {
    corrupt::corrupt_seeded(
        c,
        &melody.events,
        ENCODING,
        melody.steps_per_bar(),
        &cfg.corrupt,
        mix(cfg.seed, ci as u64, mi as u64),
    )
}

/// How many melodies each corruption applied to, with examples of why it did not.
fn report_corruptions(
    cfg: &BenchConfig,
    prepared: &[Prepared],
    versions: &Versions,
) -> Vec<CorruptionReport> {
    cfg.corruptions
        .iter()
        .enumerate()
        .map(|(ci, &c)| {
            let corrupted = &versions[ci + 1];
            // Recomputed only for the first few failures, to say why.
            let examples = prepared
                .iter()
                .enumerate()
                .filter(|&(mi, _)| corrupted[mi].is_none())
                .take(3)
                .map(|(mi, p)| {
                    let err = corrupt_melody(cfg, ci, c, mi, &p.melody)
                        .err()
                        .map_or_else(String::new, |e| e.to_string());
                    format!("{}: {err}", p.melody.name)
                })
                .collect();
            let applied = corrupted.iter().filter(|v| v.is_some()).count();
            CorruptionReport {
                name: c.name().to_string(),
                description: c.describe().to_string(),
                applied,
                skipped: prepared.len() - applied,
                examples,
            }
        })
        .collect()
}

/// How fast one subject's reward runs.
#[derive(Debug, Clone, Copy)]
struct Speed {
    ns_per_step: f64,
    steps_per_sec: f64,
}

/// Times each subject over the real melodies: one warm-up pass, then the median of
/// `timing_runs` passes, one thread, nothing else running.
fn time_subjects(
    cfg: &BenchConfig,
    subjects: &[&Subject],
    prepared: &[Prepared],
    real_steps: usize,
) -> Vec<Speed> {
    subjects
        .iter()
        .map(|s| {
            let mut reward = (s.factory)();
            let mut terms = vec![0.0; reward.term_names().len()];
            let mut pass = || {
                let t = Instant::now();
                let mut sink = 0.0;
                for p in prepared {
                    let setting = p.setting(s.frame);
                    sink += play_episode(
                        reward.as_mut(),
                        setting,
                        &p.melody.events,
                        &mut terms,
                        |_, _| {},
                    );
                }
                std::hint::black_box(sink);
                t.elapsed().as_secs_f64()
            };
            pass(); // warm-up
            let times: Vec<f64> = (0..cfg.timing_runs).map(|_| pass()).collect();
            let secs = stats::median(&times).unwrap_or(0.0);
            Speed {
                ns_per_step: secs * 1e9 / real_steps.max(1) as f64,
                steps_per_sec: if secs > 0.0 {
                    real_steps as f64 / secs
                } else {
                    f64::INFINITY
                },
            }
        })
        .collect()
}

/// One reported term with its scores.
struct ScoredTerm<'a> {
    subject: &'a Subject,
    /// The subject's index in the run's subjects (for its speed).
    subject_index: usize,
    spec: &'a TermSpec,
    /// Mean reward per step, `[version][melody]`; NaN where a version is missing.
    scores: Vec<Vec<f64>>,
}

/// Scores every version of every melody under every term, one task per subject and version.
fn score_terms<'a>(
    subjects: &[&'a Subject],
    prepared: &[Prepared],
    versions: &Versions,
) -> Vec<ScoredTerm<'a>> {
    let nv = versions.len();
    let tasks: Vec<(usize, usize)> = (0..subjects.len())
        .flat_map(|s| (0..nv).map(move |v| (s, v)))
        .collect();
    // [subject * nv + version][term][melody]
    let results: Vec<Vec<Vec<f64>>> = tasks
        .par_iter()
        .map(|&(si, v)| score_version(subjects[si], prepared, &versions[v]))
        .collect();
    let mut scored = Vec::new();
    for (si, &subject) in subjects.iter().enumerate() {
        for (ti, spec) in subject.terms.iter().enumerate() {
            scored.push(ScoredTerm {
                subject,
                subject_index: si,
                spec,
                scores: (0..nv).map(|v| results[si * nv + v][ti].clone()).collect(),
            });
        }
    }
    scored
}

/// One version of every melody scored under one subject: `[term][melody]`, the mean reward
/// per step of the value each term reads; NaN where the version is missing.
fn score_version(
    s: &Subject,
    prepared: &[Prepared],
    version: &[Option<Vec<Event>>],
) -> Vec<Vec<f64>> {
    let mut reward = (s.factory)();
    let mut terms = vec![0.0; reward.term_names().len()];
    let mut sums = vec![0.0; terms.len()];
    let mut out = vec![vec![f64::NAN; prepared.len()]; s.terms.len()];
    for (mi, p) in prepared.iter().enumerate() {
        let Some(events) = &version[mi] else {
            continue;
        };
        sums.iter_mut().for_each(|x| *x = 0.0);
        let total = play_episode(
            reward.as_mut(),
            p.setting(s.frame),
            events,
            &mut terms,
            |_, step_terms| {
                for (acc, x) in sums.iter_mut().zip(step_terms) {
                    *acc += x;
                }
            },
        );
        let len = events.len() as f64;
        for (ti, t) in s.terms.iter().enumerate() {
            out[ti][mi] = match t.column {
                Column::Term(i) => sums[i] / len,
                Column::Total => total / len,
            };
        }
    }
    out
}

/// One term's report: its speed, mean scores, AUC and interval per corruption, and the
/// corruptions it is meant to detect but does not. `k` is the term's place in the run (it
/// seeds the bootstrap).
fn judge_term(cfg: &BenchConfig, k: usize, term: &ScoredTerm<'_>, speed: Speed) -> TermReport {
    let (s, t, sc) = (term.subject, term.spec, &term.scores);
    let corruptions = &cfg.corruptions;
    let real = &sc[0];
    let mut auc = BTreeMap::new();
    let mut auc_ci = BTreeMap::new();
    let mut mean = BTreeMap::new();
    mean.insert("real".to_string(), mean_of(real));
    for (ci, c) in corruptions.iter().enumerate() {
        let bad = &sc[ci + 1];
        let neg: Vec<f64> = bad.iter().copied().filter(|x| !x.is_nan()).collect();
        auc.insert(c.name().to_string(), stats::auc(real, &neg));
        let clusters: Vec<(Option<f64>, Option<f64>)> = real
            .iter()
            .zip(bad)
            .map(|(&r, &b)| (Some(r), (!b.is_nan()).then_some(b)))
            .collect();
        let ci_seed = mix(cfg.seed ^ 0xB007, k as u64, ci as u64);
        auc_ci.insert(
            c.name().to_string(),
            stats::bootstrap_auc_ci(&clusters, cfg.resamples, cfg.level, ci_seed)
                .map(|(a, b)| [a, b]),
        );
        mean.insert(c.name().to_string(), mean_of(&neg));
    }
    let detects: Vec<Corruption> = t
        .detects
        .iter()
        .copied()
        .filter(|c| corruptions.contains(c))
        .collect();
    let failures = detects
        .iter()
        .filter_map(|c| {
            let ci = corruptions.iter().position(|x| x == c)?;
            let a = auc[c.name()];
            if a.is_some_and(|a| a > 0.5) {
                return None;
            }
            Some(Failure {
                term: t.name.clone(),
                corruption: c.name().to_string(),
                auc: a,
                reason: match known_caveat(&t.name, *c) {
                    Some(why) => format!(
                        "{}; likely because {why}",
                        failure_reason(a, &sc[0], &sc[ci + 1])
                    ),
                    None => failure_reason(a, &sc[0], &sc[ci + 1]),
                },
            })
        })
        .collect();
    TermReport {
        name: t.name.clone(),
        reward: s.name.clone(),
        kind: match t.column {
            Column::Total => "total",
            Column::Term(_) => "term",
        }
        .to_string(),
        frame: s.frame,
        ns_per_step: speed.ns_per_step,
        steps_per_sec: speed.steps_per_sec,
        timed_as: s.name.clone(),
        mean,
        auc,
        auc_ci,
        meant_to_detect: detects.iter().map(|c| c.name().to_string()).collect(),
        why: t.why.clone(),
        failures,
        exploit: Vec::new(),
    }
}

/// The Spearman correlation of the terms' scores over every real and corrupted melody.
fn agreement(scored: &[ScoredTerm<'_>], versions: &Versions) -> Correlation {
    let rows: Vec<(usize, usize)> = versions
        .iter()
        .enumerate()
        .flat_map(|(v, melodies)| (0..melodies.len()).map(move |m| (v, m)))
        .filter(|&(v, m)| versions[v][m].is_some())
        .collect();
    let ranked: Vec<Vec<f64>> = scored
        .par_iter()
        .map(|term| {
            let sc = &term.scores;
            stats::ranks(&rows.iter().map(|&(v, m)| sc[v][m]).collect::<Vec<_>>())
        })
        .collect();
    let k = ranked.len();
    let matrix: Vec<Vec<Option<f64>>> = (0..k)
        .into_par_iter()
        .map(|i| {
            (0..k)
                .map(|j| {
                    if i == j {
                        stats::pearson(&ranked[i], &ranked[j]).map(|_| 1.0)
                    } else {
                        stats::pearson(&ranked[i], &ranked[j])
                    }
                })
                .collect()
        })
        .collect();
    Correlation {
        method: "spearman".to_string(),
        rows: rows.len(),
        terms: scored.iter().map(|t| t.spec.name.clone()).collect(),
        matrix,
    }
}

/// The improv task's setting over one bar of the tonic chord (looped by `chord_at`), in the
/// melody's meter and key, with the bench's encoding.
fn drone_setting(melody: &Melody) -> Result<Setting, String> {
    let (key, chord) = if melody.minor {
        ("A minor", "Am")
    } else {
        ("C major", "C")
    };
    let config = cadenza_env::improv::ImprovConfig {
        key: key.to_string(),
        low: "C3".to_string(),
        high: "B5".to_string(),
        meter: format!("{}/{}", melody.meter.0, melody.meter.1),
        steps_per_quarter: melody.steps_per_quarter,
        length: melody.steps_per_bar(),
        progression: format!("| {chord} |"),
        ..Default::default()
    };
    let task = config.to_task().map_err(|e| e.to_string())?;
    if task.setting.encoding != ENCODING {
        return Err(format!(
            "the improv setting uses {}, not {ENCODING}",
            task.setting.encoding
        ));
    }
    Ok(task.setting)
}

/// A well-mixed seed from three numbers (SplitMix64 finaliser), so that neighbouring melodies
/// and corruptions get unrelated streams.
fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a
        .wrapping_add(b.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(c.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mean_of(values: &[f64]) -> Option<f64> {
    let v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn fires(values: &[f64]) -> f64 {
    let v: Vec<&f64> = values.iter().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.iter().filter(|x| ***x != 0.0).count() as f64 / v.len() as f64
}

/// Why a term did not prefer the real melodies, from its numbers.
fn failure_reason(auc: Option<f64>, real: &[f64], bad: &[f64]) -> String {
    let Some(a) = auc else {
        return "not measured: the corruption applied to no melody".to_string();
    };
    let (mr, mb) = (mean_of(real).unwrap_or(0.0), mean_of(bad).unwrap_or(0.0));
    let (fr, fb) = (fires(real), fires(bad));
    let all: Vec<f64> = real
        .iter()
        .chain(bad)
        .copied()
        .filter(|x| !x.is_nan())
        .collect();
    if all.windows(2).all(|w| w[0] == w[1]) {
        return format!(
            "gives every real and corrupted melody the same score ({}): it never separates them",
            all.first().copied().unwrap_or(0.0)
        );
    }
    let direction = if a < 0.5 {
        "prefers the corrupted melodies"
    } else {
        "cannot tell them apart"
    };
    format!(
        "{direction} (AUC {a:.3}): mean per step {mr:.4} real vs {mb:.4} corrupted; \
         non-zero on {:.0}% of real and {:.0}% of corrupted melodies",
        fr * 100.0,
        fb * 100.0
    )
}
