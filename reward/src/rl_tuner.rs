//! Magenta RL Tuner reward (in progress).
