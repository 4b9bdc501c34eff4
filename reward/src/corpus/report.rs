//! Held-out evaluation across orders.

use std::ops::RangeInclusive;

use cadenza_env::encoding::{Event, EventEncoding};
use serde::{Deserialize, Serialize};

use super::error::CorpusError;
use super::ngram::{NgramConfig, NgramModel};

/// Held-out fit of one order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrderReport {
    /// The model's order.
    pub order: usize,
    /// Average negative log-likelihood of the held-out events, in nats.
    pub nll_per_event: f64,
    /// `exp(nll_per_event)`.
    pub perplexity: f64,
}

/// Fits one model per order in `orders` on `train` (the other settings from `base`) and
/// evaluates each on `valid`, lowest order first. All orders are checked before any fitting.
pub fn held_out_report(
    train: &[Vec<Event>],
    valid: &[Vec<Event>],
    orders: RangeInclusive<usize>,
    base: &NgramConfig,
    encoding: EventEncoding,
    steps_per_bar: usize,
) -> Result<Vec<OrderReport>, CorpusError> {
    if orders.is_empty() {
        return Err(CorpusError::config(
            "order",
            format!(
                "the range of orders {}..={} is empty",
                orders.start(),
                orders.end()
            ),
        ));
    }
    for order in orders.clone() {
        NgramConfig { order, ..*base }.validate_with(steps_per_bar)?;
    }
    orders
        .map(|order| {
            let model = NgramModel::fit(
                NgramConfig { order, ..*base },
                encoding,
                steps_per_bar,
                train,
            )?;
            let nll_per_event = model.nll_per_event(valid)?;
            Ok(OrderReport {
                order,
                nll_per_event,
                perplexity: nll_per_event.exp(),
            })
        })
        .collect()
}
