//! What every improvisation term is: a one-valued [`Reward`] with a name ([`ImprovTerm`])
//! and plain-data parameters checked once ([`TermParams`]).

use super::error::ImprovError;
use cadenza_env::Reward;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

/// The parameters of an improvisation term: plain data (`Default`, serde with unknown fields
/// denied), checked once when the term is built.
pub trait TermParams:
    Copy + Default + PartialEq + fmt::Debug + Serialize + DeserializeOwned
{
    /// Checks every field, naming the first bad one and its allowed range.
    fn validate(&self) -> Result<(), ImprovError>;
}

/// An improvisation term: a [`Reward`] with one value, a name and checked parameters.
pub trait ImprovTerm: Reward + Default {
    /// The term's name: the name of its value in reports and its section in TOML.
    const NAME: &'static str;

    /// The term's parameters.
    type Params: TermParams;

    /// The term over parameters that passed [`TermParams::validate`], its state cleared.
    fn from_valid(params: Self::Params) -> Self;

    /// The parameters.
    fn params(&self) -> &Self::Params;

    /// A term with checked parameters.
    fn new(params: Self::Params) -> Result<Self, ImprovError> {
        params.validate()?;
        Ok(Self::from_valid(params))
    }
}
