//! Reading the algorithms' configs: the user's fields laid over an agent's defaults, and the
//! range checks their `validate` methods share.

use super::models;
use crate::agent::AgentError;

/// An agent's config from the user's table: every field the table leaves out, inside tables
/// too, keeps the agent's default (so `[model] hidden = 128` keeps PPO's default activation).
pub(super) fn parse<C>(given: &toml::Table) -> Result<C, AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize + Default,
{
    overlay(given, C::default())
}

/// The fields of `given` over those of `base`, inside tables too. Unknown keys and wrong
/// types are refused, naming the key.
pub(super) fn overlay<C>(given: &toml::Table, base: C) -> Result<C, AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize,
{
    refuse_unknown_keys(given, &base)?;
    // Read on its own first, so that wrong types are reported as the user wrote them.
    let _: C =
        C::deserialize(toml::Value::Table(given.clone())).map_err(|e| config_error(e.message()))?;
    let mut merged = toml::Table::try_from(&base).map_err(|e| config_error(&e.to_string()))?;
    merge_tables(&mut merged, given.clone());
    C::deserialize(toml::Value::Table(merged)).map_err(|e| config_error(e.message()))
}

/// Refuses a top-level key of `given` that the config `base` does not have, in serde's words
/// ("unknown field ..., expected one of ..."). Serde cannot say it itself: the shared fields
/// of the algorithms' configs are flattened in, and a struct with flattened fields does not
/// know its own field names, and ignores keys it does not know. A field that `base` leaves
/// out of its serialisation (an optional table that is off, such as PPO's `entropy_target`
/// on `rl-tuner`) is known by reading it alone: the config then serialises it, or refuses
/// what it holds.
pub(super) fn refuse_unknown_keys<C>(given: &toml::Table, base: &C) -> Result<(), AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize,
{
    let fields_of = |config: &C| match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let fields = fields_of(base);
    if fields.is_empty() {
        return Ok(());
    }
    for (key, value) in given.iter().filter(|(key, _)| !fields.contains_key(*key)) {
        let alone = toml::Table::from_iter([(key.clone(), value.clone())]);
        let known = match C::deserialize(toml::Value::Table(alone)) {
            Ok(config) => fields_of(&config).contains_key(key),
            Err(e) if e.message().starts_with(&format!("unknown field `{key}`")) => false,
            Err(e) => return Err(config_error(e.message())),
        };
        if !known {
            let expected: Vec<String> = fields.keys().map(|name| format!("`{name}`")).collect();
            return Err(config_error(&format!(
                "unknown field `{key}`, expected one of {}",
                expected.join(", ")
            )));
        }
    }
    Ok(())
}

/// [`overlay`] of a config given as TOML text (none: `base` itself).
pub(super) fn parse_over<C>(text: Option<&str>, base: C) -> Result<C, AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize,
{
    match text {
        None => Ok(base),
        Some(text) => {
            let given: toml::Table = toml::from_str(text).map_err(|e| config_error(e.message()))?;
            overlay(&given, base)
        }
    }
}

pub(super) fn config_error(message: &str) -> AgentError {
    models::config_error("config", message)
}

pub(super) fn merge_tables(base: &mut toml::Table, given: toml::Table) {
    for (key, value) in given {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(given_inner)) => {
                merge_tables(inner, given_inner)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

pub(super) fn to_json<C: serde::Serialize>(config: &C) -> Result<serde_json::Value, AgentError> {
    serde_json::to_value(config).map_err(|e| AgentError::Other(format!("config as JSON: {e}")))
}

pub(super) fn check_count(field: &str, v: usize, hi: usize) -> Result<(), AgentError> {
    if (1..=hi).contains(&v) {
        Ok(())
    } else {
        Err(models::config_error(
            field,
            &format!("must be in 1..={hi}, got {v}"),
        ))
    }
}

/// Checks `v` is finite and in `[lo, hi]` (`(lo, hi]` when `open_lo`).
pub(super) fn check_real(
    field: &str,
    v: f64,
    lo: f64,
    hi: f64,
    open_lo: bool,
) -> Result<(), AgentError> {
    let ok = v.is_finite() && v <= hi && if open_lo { v > lo } else { v >= lo };
    if ok {
        Ok(())
    } else {
        let open = if open_lo { '(' } else { '[' };
        Err(models::config_error(
            field,
            &format!("must be in {open}{lo}, {hi}], got {v}"),
        ))
    }
}
