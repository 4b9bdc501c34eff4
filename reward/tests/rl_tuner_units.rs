//! Unit tests of each rule of Magenta RL Tuner's reward, the worked values of the rules,
//! resets, configuration, and robustness.

use cadenza_env::encoding::Event;
use cadenza_env::reward::{Reward, Setting, StepContext};
use cadenza_reward::rl_tuner::{RlTunerConfig, RlTunerError, RlTunerReward, NUM_TERMS, TERM_NAMES};

const KEY: usize = 0;
const TONIC: usize = 1;
const REPEATING: usize = 2;
const AUTOCORRELATION: usize = 3;
const MOTIF: usize = 4;
const REPEATED_MOTIF: usize = 5;
const INTERVALS: usize = 6;
const LEAP: usize = 7;
const HIGH_LOW: usize = 8;

/// Scores a melody from a fresh state: per step, (total, terms).
fn score(events: &[Event]) -> Vec<(f64, [f64; NUM_TERMS])> {
    let mut reward = RlTunerReward::default();
    score_with(&mut reward, events)
}

fn score_with(reward: &mut RlTunerReward, events: &[Event]) -> Vec<(f64, [f64; NUM_TERMS])> {
    let setting = Setting::rl_tuner();
    reward.reset(&setting);
    events
        .iter()
        .enumerate()
        .map(|(i, &action)| {
            let mut terms = [f64::NAN; NUM_TERMS];
            let ctx = StepContext {
                setting: &setting,
                step: i,
                history: &events[..i],
                action,
            };
            let total = reward.step(&ctx, &mut terms);
            (total, terms)
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9
}

/// The term `t` at every step.
fn term(events: &[Event], t: usize) -> Vec<f64> {
    score(events).iter().map(|(_, terms)| terms[t]).collect()
}

#[test]
fn rl_tuner_worked_values() {
    // C4 at beat 0: +3 (tonic only).
    let steps = score(&[14, 16]);
    assert_eq!(steps[0].0, 3.0);
    assert_eq!(steps[0].1[TONIC], 3.0);
    // C4 -> D4 at beat 1: -1.1 (autocorrelation -1.5, a second +0.4).
    assert!(close(steps[1].0, -1.1));
    assert!(close(steps[1].1[AUTOCORRELATION], -1.5));
    assert!(close(steps[1].1[INTERVALS], 0.4));
    // Stacked fifths C3 -> G3 -> D4: -6.0 at step 2.
    let steps = score(&[2, 9, 16]);
    assert!(close(steps[2].0, -6.0), "{:?}", steps[2]);
    assert!(close(steps[2].1[INTERVALS], 0.5));
    assert_eq!(steps[2].1[LEAP], -5.0);
    assert!(close(steps[2].1[AUTOCORRELATION], -1.5));
    // C4 struck 6 times: -100 on the 6th strike, not before.
    let rep = term(&[14; 6], REPEATING);
    assert_eq!(rep, [0.0, 0.0, 0.0, 0.0, 0.0, -100.0]);
}

#[test]
fn rl_tuner_term_names_in_magentas_order() {
    let reward = RlTunerReward::default();
    assert_eq!(reward.term_names(), TERM_NAMES.map(String::from).to_vec());
    assert_eq!(TERM_NAMES[KEY], "key");
    assert_eq!(TERM_NAMES[HIGH_LOW], "high_low_unique");
}

#[test]
fn rl_tuner_key() {
    for e in 0..=37u8 {
        let expected = if [3, 5, 8, 10, 12, 15, 17, 20, 22, 24, 27, 29, 32, 34, 36].contains(&e) {
            -1.0
        } else {
            0.0
        };
        assert_eq!(term(&[e], KEY)[0], expected, "event {e}");
    }
}

#[test]
fn rl_tuner_tonic() {
    let mut melody = vec![16u8; 32];
    melody[0] = 14;
    melody[28] = 14;
    melody[29] = 1;
    melody[30] = 0;
    melody[31] = 1;
    let tonic = term(&melody, TONIC);
    for (beat, value) in tonic.iter().enumerate() {
        let expected = if [0, 28, 29, 30, 31].contains(&beat) {
            3.0
        } else {
            0.0
        };
        assert_eq!(*value, expected, "beat {beat}");
    }
    // Only C4 is the tonic; a note-off at 29 is not rewarded; C4 elsewhere is not.
    assert_eq!(term(&[26], TONIC)[0], 0.0);
    assert_eq!(term(&[2], TONIC)[0], 0.0);
    melody[29] = 0;
    melody[5] = 14;
    let tonic = term(&melody, TONIC);
    assert_eq!(tonic[29], 0.0);
    assert_eq!(tonic[5], 0.0);
}

#[test]
fn rl_tuner_penalize_repeating() {
    // With holds or rests interleaved: the 8th occurrence.
    let melody = [14, 1, 14, 14, 14, 0, 14, 14, 14, 14];
    let rep = term(&melody, REPEATING);
    assert_eq!(rep.iter().filter(|&&v| v != 0.0).count(), 1);
    assert_eq!(rep[9], -100.0);
    // A third note-off in a run of silence (holds may be interleaved).
    assert_eq!(
        term(&[14, 0, 1, 0, 0], REPEATING),
        [0.0, 0.0, 0.0, 0.0, -100.0]
    );
    // A note held by 7 holds: -100 on the 6th and 7th hold.
    let rep = term(&[21, 1, 1, 1, 1, 1, 1, 1], REPEATING);
    assert_eq!(rep, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -100.0, -100.0]);
    // Another pitch breaks the run.
    let rep = term(&[14, 14, 14, 14, 14, 16, 14], REPEATING);
    assert!(rep.iter().all(|&v| v == 0.0));
    // Rests before the run count as breaks for the run.
    let rep = term(&[0, 14, 14, 14, 14, 14, 14], REPEATING);
    assert!(rep.iter().all(|&v| v == 0.0), "{rep:?}");
}

#[test]
fn rl_tuner_autocorrelation_skips_nan() {
    // The first step and a constant signal give 0/0, skipped.
    assert_eq!(term(&[14; 4], AUTOCORRELATION), [0.0; 4]);
}

/// Melodies where some coefficient is exactly ±0.15: Magenta's values (numpy 2.4), whose
/// rounding puts some of these ties over the threshold and some not.
const NUMPY_TIES: &[(&[u8], &[f64])] = &[
    (
        &[1, 14, 14, 14, 14, 14, 14, 9],
        &[0.0, -1.5, -1.5, -1.25, 0.0, 0.0, 0.0, 0.0],
    ),
    (
        &[
            14, 14, 14, 14, 1, 2, 1, 1, 0, 1, 14, 2, 0, 14, 1, 14, 14, 2, 1, 0, 9, 14, 14, 14, 9,
            2, 1, 14, 14, 14, 0, 14,
        ],
        &[
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            -2.46049481245012,
            -2.5594374537379716,
            -2.600258918296893,
            -2.9458505002942914,
            -3.191952894995093,
            -2.3081661072627293,
            -2.0922680412371135,
            -1.7690839694656488,
            -1.5234014271722396,
            -1.315022860875245,
            -1.1226717860143778,
            -1.786267138434321,
            -1.20304454891426,
            -1.0623283714096188,
            -0.6701908957415567,
            -0.6046887631366208,
            -0.6444918295824009,
            -0.7886266094420602,
            -0.9069536071504576,
            -0.9407708604954367,
            -0.8847033168020821,
            -0.9402066561213811,
            -0.7885203665275478,
            -0.8840549602892913,
            -0.9664088740862005,
            -0.8005908680361078,
            -0.6626738358037655,
        ],
    ),
    (
        &[1, 14, 1, 1, 1, 14, 1, 21],
        &[
            0.0,
            -1.5,
            -2.5,
            -1.75,
            -0.9000000000000001,
            -2.25,
            -1.8857142857142855,
            -2.53986272439282,
        ],
    ),
    (
        &[14, 1, 14, 14, 14, 1, 21, 0],
        &[
            0.0,
            -1.5,
            -2.5,
            -1.75,
            -0.8999999999999998,
            -2.25,
            -1.5109515697249938,
            -2.5425524475524472,
        ],
    ),
    (
        &[14, 14, 14, 14, 2, 2, 14, 9, 2, 9, 0, 1],
        &[
            0.0,
            0.0,
            0.0,
            0.0,
            -0.45000000000000007,
            -2.5,
            -2.1857142857142855,
            -1.4019092002405291,
            -1.5762061403508774,
            -1.6082840236686389,
            -0.45624204722182937,
            -1.3667011375387799,
        ],
    ),
    (
        &[
            14, 14, 14, 9, 14, 0, 1, 0, 1, 1, 14, 14, 1, 0, 14, 14, 2, 14, 0, 14, 2, 14, 14, 14, 9,
            0, 0, 14, 14, 2, 1, 14,
        ],
        &[
            0.0,
            0.0,
            0.0,
            -1.25,
            -0.8999999999999999,
            -1.6797927461139897,
            -0.9139172667894826,
            -2.804043545878694,
            -2.776101388050694,
            -3.1100591715976336,
            -2.2928806133625406,
            -2.195121951219512,
            -1.1250991276764468,
            -1.2527332582517543,
            -0.9441787287602267,
            -1.0916855308140072,
            -1.3666357240570646,
            -0.6992874638165217,
            -0.4591475099074843,
            0.0,
            0.0,
            -0.4622833064548735,
            0.0,
            0.0,
            0.0,
            -0.501890359168242,
            -0.6123166832065278,
            -0.5693178813783377,
            -0.6650669031274596,
            -0.53846487424111,
            -0.6276919765727925,
            -0.5164728970074398,
        ],
    ),
    (
        &[1, 14, 14, 14, 14, 0, 1, 0, 1, 14, 14, 21],
        &[
            0.0,
            -1.5,
            -1.5,
            -1.25,
            0.0,
            -1.2474332648870636,
            -2.2847788320192435,
            -2.2397400820793436,
            -2.052655931889691,
            -1.8187958231504107,
            -2.1939898989898987,
            -2.337962962962963,
        ],
    ),
    (
        &[21, 16, 21, 18, 14, 14, 1, 1, 0, 1, 18, 19],
        &[
            0.0,
            -1.5,
            -2.500000000000001,
            -3.5,
            -1.5789473684210527,
            0.0,
            -0.4714285714285714,
            -1.4912790697674418,
            -2.952084857351865,
            -3.4787108552169634,
            -2.7068980505509317,
            -2.4914004914004915,
        ],
    ),
    (
        &[9, 9, 9, 9, 0, 14, 14, 9, 14, 14, 14, 14],
        &[
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            -1.493548387096774,
            -1.0031191515907671,
            -1.4824498567335245,
            -0.5197368421052632,
            -0.8040852575488453,
            -0.6928086838534601,
            -0.8542471042471043,
        ],
    ),
    (
        &[
            16, 18, 21, 0, 19, 0, 1, 16, 1, 1, 21, 0, 1, 21, 14, 1, 21, 0, 21, 16,
        ],
        &[
            0.0,
            -1.5,
            -1.4736842105263157,
            -1.1494334277620397,
            -1.3623430962343095,
            -3.1164772727272725,
            -0.49619611158072696,
            -0.5887756158145312,
            -1.8798708174502325,
            -0.7790104367993818,
            -1.5760420681680527,
            -1.9879879879879878,
            -1.7967485091781326,
            -2.2043434000678657,
            -1.9672131147540985,
            -2.75476247890041,
            -2.901323955316509,
            -2.3654568515537346,
            -2.2302985739149204,
            -2.196952147825308,
        ],
    ),
    (
        &[
            14, 14, 14, 0, 14, 1, 14, 0, 14, 1, 14, 14, 0, 14, 9, 14, 0, 0, 1, 14, 14, 1, 0, 2, 0,
            14, 9, 14, 2, 9, 2, 0,
        ],
        &[
            0.0,
            0.0,
            0.0,
            -1.25,
            -0.8999999999999999,
            -2.7412731006160165,
            -3.632999530589892,
            -4.1748307801923765,
            -4.748119556611242,
            -5.133120437956204,
            -5.5448856970171,
            -4.749486652977413,
            -3.688448050465855,
            -3.734018499486127,
            -3.7474932855863923,
            -3.926102457772833,
            -3.8661703071840634,
            -3.0496910708747826,
            -3.014492753623188,
            -3.037508698677801,
            -2.839045791061145,
            -2.5121957599298987,
            -1.9161312001792141,
            -1.833891213389121,
            -2.012178965717606,
            -1.68916903014305,
            -1.679788188835039,
            -2.184123540956513,
            -1.8536527055958119,
            -2.32216668032451,
            -2.448730759382971,
            -2.1381870858947067,
        ],
    ),
    (
        &[18, 1, 1, 1, 1, 1, 16, 0, 16, 14, 19, 14],
        &[
            0.0,
            -1.5,
            -1.5,
            -1.25,
            -0.45000000000000007,
            0.0,
            -0.5114885114885115,
            -0.6696343779677113,
            -1.795261150234742,
            0.0,
            -0.7824207492795388,
            -1.4453232462173315,
        ],
    ),
    (
        &[14, 14, 14, 2, 14, 9, 0, 2, 1, 1, 2, 14, 9, 0, 0, 1],
        &[
            0.0,
            0.0,
            0.0,
            -1.25,
            -1.35,
            -1.6413793103448273,
            -0.7380354902312243,
            -0.45867071524966263,
            -0.7986064284108786,
            -2.0491237530331627,
            -2.505948889819858,
            -0.8555149127743387,
            -0.9353459685531262,
            -0.7455715925865181,
            -0.9263663220088625,
            -1.0499629243106667,
        ],
    ),
    (
        &[
            14, 14, 14, 14, 2, 14, 9, 9, 9, 14, 14, 2, 1, 14, 9, 9, 14, 0, 9, 9, 0, 14, 14, 14, 2,
            2, 0, 2, 14, 2, 0, 2,
        ],
        &[
            0.0,
            0.0,
            0.0,
            0.0,
            -0.45000000000000007,
            -0.7,
            -0.8231064237775647,
            -0.6587078651685394,
            -0.5434782608695652,
            -0.6199178644763861,
            0.0,
            -0.6134920634920635,
            -0.5092592592592593,
            -0.7742110334859069,
            -0.6740305522914221,
            -0.7157095830285296,
            -0.7121827904715602,
            -0.5081834386647223,
            -0.5287367452670315,
            -0.48306416412047143,
            -0.5808662825352672,
            -0.5575583420411006,
            -1.1097736255839021,
            -0.45142700329308433,
            -0.5770028818443804,
            -0.6761479340471654,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
    ),
    (
        &[
            21, 0, 0, 0, 0, 14, 1, 21, 0, 1, 1, 14, 21, 21, 0, 14, 21, 1, 14, 0,
        ],
        &[
            0.0,
            -1.5,
            -1.5,
            -1.25,
            -0.45000000000000007,
            -1.179245283018868,
            -1.085083370887787,
            -1.225803455322311,
            -2.343546889507892,
            -1.5910166756320603,
            -1.760339422765106,
            -1.8952476238119051,
            -1.101958124850405,
            -1.1130983891703852,
            -1.2001565762004174,
            -0.970937901040924,
            -0.5378221758502058,
            0.0,
            0.0,
            -0.5027194729584801,
        ],
    ),
    (
        &[0, 21, 0, 0, 0, 21, 14, 0, 21, 21, 1, 0, 21, 14, 21, 21],
        &[
            0.0,
            -1.5,
            -2.5,
            -1.75,
            -1.35,
            -2.25,
            -2.0285714285714285,
            -2.3571428571428568,
            -1.4303797468354433,
            -0.723529411764706,
            -2.060747663551402,
            -1.196526108804894,
            -2.3342446214192316,
            -1.3542261387613255,
            -0.9591836734693877,
            -0.8044041450777202,
        ],
    ),
    (
        &[14, 14, 14, 14, 2, 2, 14, 0, 14, 0, 2, 0],
        &[
            0.0,
            0.0,
            0.0,
            0.0,
            -0.45000000000000007,
            -2.5,
            -2.1857142857142855,
            0.0,
            0.0,
            -1.4132812500000003,
            -0.49956082564778226,
            -0.804093567251462,
        ],
    ),
    (
        &[
            0, 21, 21, 21, 21, 14, 1, 18, 21, 0, 0, 0, 18, 19, 0, 19, 0, 1, 16, 0, 21, 21, 21, 19,
            18, 0, 19, 0, 1, 18, 19, 19,
        ],
        &[
            0.0,
            -1.5,
            -1.5,
            -1.25,
            -0.45000000000000007,
            -0.5454545454545456,
            -1.2575503966232442,
            -1.185771073840122,
            -1.633879781420765,
            -0.8605647517039922,
            -0.9427560193416525,
            -0.8105794556628622,
            -1.1434634974533107,
            -1.9824274621986107,
            -0.8264362220058425,
            -0.6979001584786054,
            0.0,
            -0.4677306032319582,
            -0.565665412360123,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
    ),
    (
        &[0, 21, 21, 21, 21, 0, 1, 1],
        &[
            0.0,
            -1.5,
            -1.5,
            -1.25,
            -0.45000000000000007,
            -1.25,
            -2.242439431913116,
            -2.1742424242424243,
        ],
    ),
    (
        &[0, 21, 21, 21, 21, 21, 1, 0, 14, 1, 0, 0],
        &[
            0.0,
            -1.5,
            -1.5,
            -1.25,
            -0.45000000000000007,
            0.0,
            -0.513857754228653,
            -1.441515907673113,
            -1.8744804655029095,
            -0.6409308765576738,
            -0.971082089552239,
            -1.2103381472349417,
        ],
    ),
    (
        &[
            21, 0, 0, 0, 0, 1, 21, 0, 0, 21, 21, 14, 1, 21, 21, 1, 21, 0, 0, 0, 1, 0, 0, 14, 21,
            21, 21, 21, 14, 0, 0, 21,
        ],
        &[
            0.0,
            -1.5,
            -1.5,
            -1.25,
            -0.45000000000000007,
            0.0,
            -0.548773248911753,
            -0.5805129434324066,
            -1.1410298458510988,
            -1.8398950131233596,
            -0.7835036169736744,
            -0.5161677954992353,
            -0.7436079334054313,
            -0.47422316118700525,
            -0.5943100995732575,
            -1.2536720713174585,
            -1.1559292639240324,
            -0.48139650254247784,
            -1.0485751352888382,
            0.0,
            -0.49768295433574594,
            -0.5822151744327885,
            -0.6543066630237054,
            -0.5755974665864871,
            0.0,
            -0.5010054293183189,
            -0.6565196900037767,
            -1.2629701835073102,
            -1.3730253330397353,
            -0.7652534051131571,
            -0.8265250739448917,
            -0.6892628462868401,
        ],
    ),
    (
        &[14, 14, 14, 14, 16, 19, 0, 0],
        &[
            0.0,
            0.0,
            0.0,
            0.0,
            -0.45000000000000023,
            -1.496,
            -0.7431192660550459,
            -1.6738554834301334,
        ],
    ),
    (
        &[
            14, 14, 14, 14, 14, 14, 2, 14, 14, 2, 2, 9, 9, 14, 0, 0, 2, 14, 9, 1,
        ],
        &[
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            -0.4821428571428572,
            -0.45833333333333354,
            -2.25,
            -1.7954545454545459,
            -1.2997633447278463,
            -1.4370528266913811,
            -1.09159881569208,
            0.0,
            -0.7114774330042313,
            -0.9935240695672818,
            -0.7870912640312349,
            -0.7815077742900942,
            -0.705125148986889,
        ],
    ),
    (
        &[1, 1, 0, 1, 2, 9, 0, 9, 2, 1, 0, 0, 2, 2, 9, 14],
        &[
            0.0,
            0.0,
            -1.5,
            -1.75,
            -1.5,
            -0.7228915662650601,
            -1.0,
            -1.8841130012150669,
            -2.594062947067239,
            -1.6928571428571426,
            -2.280070494933177,
            -2.0750708215297453,
            -1.6221719457013575,
            -1.6206657420249657,
            -1.4584158415841584,
            -1.0816703417861082,
        ],
    ),
];

#[test]
fn rl_tuner_autocorrelation_ties_follow_numpy() {
    for (melody, expected) in NUMPY_TIES {
        let got = term(melody, AUTOCORRELATION);
        for (i, (g, e)) in got.iter().zip(expected.iter()).enumerate() {
            assert!(close(*g, *e), "{melody:?} step {i}: {g} vs numpy {e}");
        }
    }
}

#[test]
fn rl_tuner_motif_values() {
    // u distinct pitches in the last 8 events: 3 + 0.3 per pitch beyond three.
    // Python floats: 3 + (u - 3)·0.3 (u = 6 gives 3 + 0.8999999999999999).
    let expected = [3.0, 3.3, 3.6, 3.0 + 3.0 * 0.3, 4.2, 4.5];
    for (k, u) in (3..=8).enumerate() {
        let mut melody: Vec<Event> = (0..u).map(|i| 14 + 2 * i as Event).collect();
        melody.resize(8, 1);
        let motif = term(&melody, MOTIF);
        assert!(motif[..7].iter().all(|&v| v == 0.0));
        assert_eq!(motif[7], expected[k], "u = {u}");
    }
    // Two distinct pitches are no motif.
    assert_eq!(term(&[14, 16, 14, 16, 0, 1, 0, 1], MOTIF)[7], 0.0);
}

#[test]
fn rl_tuner_repeated_motif() {
    let bar = [14u8, 18, 21, 1, 18, 14, 0, 1];
    let mut melody = bar.to_vec();
    melody.extend_from_slice(&bar);
    let rep = term(&melody, REPEATED_MOTIF);
    // Only the second copy's last step: the window must lie entirely before.
    assert!(rep[..15].iter().all(|&v| v == 0.0), "{rep:?}");
    assert_eq!(rep[15], 4.0);
    // A window overlapping the current one does not count.
    let rep = term(
        &[14, 16, 18, 14, 16, 18, 14, 16, 18, 14, 16, 18, 14, 16],
        REPEATED_MOTIF,
    );
    assert!(rep.iter().all(|&v| v == 0.0), "{rep:?}");
    // More pitches, bigger bonus: 4 + (u - 3).
    let bar = [14u8, 16, 18, 19, 21, 23, 25, 26];
    let mut melody = bar.to_vec();
    melody.extend_from_slice(&bar);
    assert_eq!(term(&melody, REPEATED_MOTIF)[15], 9.0);
}

#[test]
fn rl_tuner_preferred_intervals() {
    let cases: &[(&[Event], f64)] = &[
        (&[0, 1, 14], 0.0),               // no earlier pitch
        (&[16, 0], 0.25),                 // rest
        (&[16, 1], 0.375),                // hold
        (&[14, 0], 0.75),                 // rest after C
        (&[21, 1], 1.5),                  // hold after G
        (&[21, 0, 1, 1], 1.5),            // hold after G, across specials
        (&[14, 21], 0.5),                 // in-key fifth
        (&[18, 11], 0.1),                 // 7 below E: a plain fifth
        (&[14, 18], 0.75),                // in-key third
        (&[16, 20], 0.44999999999999996), // a third not from C or E
        (&[14, 16], 0.4),
        (&[14, 19], 0.35000000000000003),
        (&[14, 23], 0.25),
        (&[14, 25], -1.5),
        (&[14, 26], 0.0), // an exact octave
        (&[14, 27], -5.0),
        (&[14, 15], 0.0),
        (&[14, 14], 0.0),
    ];
    for (melody, expected) in cases {
        let got = *term(melody, INTERVALS).last().unwrap();
        assert_eq!(got, *expected, "{melody:?}");
    }
}

#[test]
fn rl_tuner_leap_up_back() {
    // Doubled: two leaps up; the origin stays the first one.
    assert_eq!(term(&[14, 21, 28], LEAP), [0.0, 0.0, -5.0]);
    // Resolved gradually: back to (or past) the origin by steps.
    assert_eq!(term(&[14, 21, 19, 16, 14], LEAP), [0.0, 0.0, 0.0, 0.0, 5.0]);
    // Leap back within 6 steps: cleared, no bonus, and no new leap recorded.
    assert_eq!(term(&[14, 21, 14, 7], LEAP), [0.0, 0.0, 0.0, 0.0]);
    // Leap back after more than 6 steps (holds count): resolved.
    let melody = [14, 26, 25, 26, 25, 26, 25, 1, 1, 16];
    assert_eq!(*term(&melody, LEAP).last().unwrap(), 5.0);
    let melody = [14, 26, 25, 26, 25, 26, 25, 16];
    assert_eq!(*term(&melody, LEAP).last().unwrap(), 0.0);
    // Holds and rests count as steps but never resolve.
    assert_eq!(term(&[26, 14, 1, 0, 1], LEAP), [0.0; 5]);
}

#[test]
fn rl_tuner_high_low_unique() {
    let mut melody = vec![16u8; 32];
    melody[3] = 30;
    melody[10] = 2;
    let hl = term(&melody, HIGH_LOW);
    assert!(hl[..31].iter().all(|&v| v == 0.0));
    assert_eq!(hl[31], 6.0);
    // Special events take part in the maximum but not the minimum.
    let mut melody = vec![0u8; 32];
    melody[5] = 1;
    assert_eq!(term(&melody, HIGH_LOW)[31], 3.0);
    // The last step itself can be the unique extreme; repeats are not unique.
    let mut melody = vec![16u8; 31];
    melody.push(37);
    assert_eq!(term(&melody, HIGH_LOW)[31], 3.0);
}

#[test]
fn rl_tuner_resets_every_composition() {
    let bar: Vec<Event> = [14u8, 16, 18, 19, 21, 19, 18, 16].repeat(4);
    let once = score(&bar);
    let mut long = bar.repeat(3);
    long.extend_from_slice(&bar[..4]);
    let thrice = score(&long);
    for i in 0..100 {
        let (a, b) = (thrice[i], once[i % 32]);
        assert_eq!(a.0.to_bits(), b.0.to_bits(), "step {i}");
    }
    // reset() and step 0 both start afresh.
    let mut reward = RlTunerReward::default();
    let first = score_with(&mut reward, &[14, 21, 28]);
    let again = score_with(&mut reward, &[14, 21, 28]);
    assert_eq!(first, again);
    let mut terms = [0.0; NUM_TERMS];
    let setting = Setting::rl_tuner();
    let ctx = StepContext {
        setting: &setting,
        step: 0,
        history: &[],
        action: 14,
    };
    assert_eq!(reward.step(&ctx, &mut terms), 3.0);
    assert_eq!(reward.beat(), 1);
}

#[test]
fn rl_tuner_out_of_range_events_are_holds() {
    let mut reward = RlTunerReward::default();
    let mut terms = [0.0; NUM_TERMS];
    let mut hold_terms = [0.0; NUM_TERMS];
    let mut twin = RlTunerReward::default();
    for (i, &e) in [14u8, 38, 200, 255, 16, 99].iter().enumerate() {
        let total = reward.score_event(e, &mut terms);
        let expected = twin.score_event(if e > 37 { 1 } else { e }, &mut hold_terms);
        assert_eq!(total.to_bits(), expected.to_bits(), "step {i}");
        assert_eq!(terms, hold_terms);
    }
    // A short terms slice gets what fits; an empty one nothing.
    let mut short = [0.0; 2];
    assert_eq!(
        reward.score_event(14, &mut short),
        twin.score_event(14, &mut hold_terms)
    );
    assert_eq!(short, hold_terms[..2]);
    reward.score_event(14, &mut []);
}

#[test]
fn rl_tuner_config() {
    let config = RlTunerConfig::default();
    assert_eq!(config.melody_length, 32);
    assert_eq!(config.tonic, 14);
    assert_eq!(config.repeating_penalty, -100.0);
    config.validate().unwrap();
    let parsed: RlTunerConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(parsed, config);
    let parsed: RlTunerConfig = serde_json::from_str(r#"{"melody_length": 16}"#).unwrap();
    assert_eq!(parsed.melody_length, 16);
    assert!(serde_json::from_str::<RlTunerConfig>(r#"{"melody_lenght": 16}"#).is_err());

    let bad = |config: RlTunerConfig, field: &str| match RlTunerReward::new(config) {
        Err(RlTunerError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected an error on {field}, got {other:?}"),
    };
    bad(
        RlTunerConfig {
            melody_length: 0,
            ..RlTunerConfig::default()
        },
        "melody_length",
    );
    bad(
        RlTunerConfig {
            tonic: 38,
            ..RlTunerConfig::default()
        },
        "tonic",
    );
    bad(
        RlTunerConfig {
            motif_reward: f64::NAN,
            ..RlTunerConfig::default()
        },
        "motif_reward",
    );
    let message = RlTunerReward::new(RlTunerConfig {
        leap_doubled_penalty: f64::INFINITY,
        ..RlTunerConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(message.contains("leap_doubled_penalty"), "{message}");
}

#[test]
fn rl_tuner_other_melody_lengths() {
    // A 16-step composition: final bar at 12, unique extrema at 15, reset every 16.
    let config = RlTunerConfig {
        melody_length: 16,
        ..RlTunerConfig::default()
    };
    let mut reward = RlTunerReward::new(config).unwrap();
    let mut melody = vec![16u8; 16];
    melody[12] = 14;
    melody[13] = 1;
    melody[14] = 0;
    melody[15] = 30;
    let mut twice = melody.clone();
    twice.extend_from_slice(&melody);
    let steps = score_with(&mut reward, &twice);
    for offset in [0, 16] {
        assert_eq!(steps[offset + 12].1[TONIC], 3.0);
        assert_eq!(steps[offset + 13].1[TONIC], 3.0);
        assert_eq!(steps[offset + 14].1[TONIC], 3.0);
        // C4 and E5 each occur once: both extremes are unique.
        assert_eq!(steps[offset + 15].1[HIGH_LOW], 6.0);
    }
    // Tiny compositions do not panic.
    for length in 1..4 {
        let mut reward = RlTunerReward::new(RlTunerConfig {
            melody_length: length,
            ..RlTunerConfig::default()
        })
        .unwrap();
        score_with(&mut reward, &[14, 1, 0, 14, 30, 2, 2, 2, 2, 2, 2, 2, 2]);
    }
}
