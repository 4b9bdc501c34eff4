//! RL Tuner evaluation metrics (in progress).
