//! The checkpoint format: one line of JSON ([`CheckpointHeader`]), the table in binary
//! ([`TableLayout`]) and a checksum; written atomically. The agent's side (what goes into
//! the header, and the agent a checkpoint rebuilds) is in `agent`.

use crate::agent::AgentError;
use crate::checksum::fnv1a;
use serde::{Deserialize, Serialize};

use std::path::Path;

use super::config::{Algorithm, TabularConfig};
use super::table::QTable;

/// File name of a tabular checkpoint inside a checkpoint directory.
pub const CHECKPOINT_FILE: &str = "tabular.ckpt";
/// The `format` field of tabular checkpoints.
pub const FORMAT: &str = "cadenza-tabular";
/// The current checkpoint version. Version 2: `rl-tuner`'s compact state gained the melodic
/// context, so a version-1 table's rows belong to other states.
pub const VERSION: u32 = 2;

/// The checkpoint header: one line of JSON, followed by the table in binary (see
/// [`TableLayout`]) and an 8-byte FNV-1a checksum of that binary part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    /// The agent kind (`q`, `sarsa`, `expected-sarsa`).
    pub kind: String,
    /// The hyperparameters.
    pub config: TabularConfig,
    /// The task's name.
    pub task: String,
    /// Env steps learned from.
    pub steps_done: u64,
    /// The budget of the ε schedule.
    pub schedule_steps: u64,
    /// Episodes finished in training.
    pub episodes_done: u64,
    /// How the table follows the header.
    pub table: TableLayout,
}

/// The binary table after the header, little-endian: `rows` states (u64), then
/// `rows * num_actions` values (f32, row-major), then as many visit counts (u32) if `visits`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableLayout {
    /// Always `binary-le`.
    pub encoding: String,
    /// Number of rows.
    pub rows: u64,
    /// Values per row.
    pub num_actions: u64,
    /// Whether visit counts follow the values.
    pub visits: bool,
    /// Words (u64) per row of the tried-action bits that follow.
    pub tried_words: u64,
}

impl TableLayout {
    fn bytes(&self) -> Option<u64> {
        let cells = self.rows.checked_mul(self.num_actions)?;
        let per_cell = if self.visits { 8 } else { 4 };
        let tried = self.rows.checked_mul(self.tried_words)?.checked_mul(8)?;
        self.rows
            .checked_mul(8)?
            .checked_add(cells.checked_mul(per_cell)?)?
            .checked_add(tried)
    }
}

pub(super) fn checkpoint_error(path: &Path, message: impl Into<String>) -> AgentError {
    AgentError::Checkpoint {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Writes `bytes` to `path` with env's durable replace ([`cadenza_env::io::write_atomic`]):
/// a crash never leaves a half-written file in its place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    cadenza_env::io::write_atomic(path, bytes)
        .map_err(|e| checkpoint_error(path, format!("cannot write: {e}")))
}

/// The layout of `table` in a checkpoint.
pub(super) fn layout_of(table: &QTable) -> TableLayout {
    TableLayout {
        encoding: "binary-le".to_string(),
        rows: table.len() as u64,
        num_actions: table.num_actions as u64,
        visits: table.track_visits,
        tried_words: table.words as u64,
    }
}

/// Checkpoint bytes: `header` (whose layout is `table`'s) as one line, then the table and
/// its checksum.
pub(super) fn encode(header: &CheckpointHeader, table: &QTable) -> Vec<u8> {
    // Serialising plain data with string keys cannot fail.
    let mut out = serde_json::to_vec(header).unwrap_or_default();
    out.push(b'\n');
    let start = out.len();
    out.reserve(header.table.bytes().unwrap_or(0) as usize + 8);
    for &key in &table.keys {
        out.extend_from_slice(&key.to_le_bytes());
    }
    for &v in &table.values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    if table.track_visits {
        for &c in &table.visits {
            out.extend_from_slice(&c.to_le_bytes());
        }
    }
    for &w in &table.tried {
        out.extend_from_slice(&w.to_le_bytes());
    }
    let checksum = fnv1a(&out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// Reads only the header of a checkpoint file (to learn its kind).
pub fn read_header(path: &Path) -> Result<CheckpointHeader, AgentError> {
    let bytes =
        std::fs::read(path).map_err(|e| checkpoint_error(path, format!("cannot read: {e}")))?;
    header_of(path, &bytes)
}

/// The header of checkpoint bytes read from `path` (named in errors).
pub(crate) fn header_of(path: &Path, bytes: &[u8]) -> Result<CheckpointHeader, AgentError> {
    parse_header(path, bytes).map(|(h, _)| h)
}

fn parse_header<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(CheckpointHeader, &'a [u8]), AgentError> {
    let newline = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| {
        checkpoint_error(
            path,
            "not a Cadenza tabular checkpoint (no header line; truncated or corrupt)",
        )
    })?;
    let value: serde_json::Value = serde_json::from_slice(&bytes[..newline])
        .map_err(|e| checkpoint_error(path, format!("corrupt header: {e}")))?;
    let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != FORMAT {
        return Err(checkpoint_error(
            path,
            format!("format is '{format}', expected '{FORMAT}' (not a tabular checkpoint)"),
        ));
    }
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version != VERSION as u64 {
        return Err(checkpoint_error(
            path,
            format!(
                "version {version} is not supported (this build reads version {VERSION}; \
                 version 2 changed the compact state, so retrain the agent)"
            ),
        ));
    }
    let header: CheckpointHeader = serde_json::from_value(value)
        .map_err(|e| checkpoint_error(path, format!("corrupt header: {e}")))?;
    Ok((header, &bytes[newline + 1..]))
}

/// Checks checkpoint bytes read from `path` (named in errors) up to the table: the header,
/// the kind (with `expected_kind`, a checkpoint of another kind is an error), the size and
/// the checksum. Returns the header, its algorithm and the table's bytes, for [`read_table`].
pub(super) fn decode_header<'a>(
    path: &Path,
    bytes: &'a [u8],
    expected_kind: Option<&str>,
) -> Result<(CheckpointHeader, Algorithm, &'a [u8]), AgentError> {
    let (header, body) = parse_header(path, bytes)?;
    let algorithm = Algorithm::from_kind(&header.kind).ok_or_else(|| {
        checkpoint_error(
            path,
            format!("unknown tabular agent kind '{}'", header.kind),
        )
    })?;
    if let Some(kind) = expected_kind {
        if kind != header.kind {
            return Err(checkpoint_error(
                path,
                format!("holds a '{}' agent, not a '{kind}' agent", header.kind),
            ));
        }
    }
    let layout = &header.table;
    if layout.encoding != "binary-le" {
        return Err(checkpoint_error(
            path,
            format!("unknown table encoding '{}'", layout.encoding),
        ));
    }
    let expected = layout
        .bytes()
        .and_then(|b| b.checked_add(8))
        .ok_or_else(|| checkpoint_error(path, "corrupt header: table size overflows"))?;
    if (body.len() as u64) < expected {
        return Err(checkpoint_error(
            path,
            format!(
                "truncated: the table needs {expected} bytes, the file has {}",
                body.len()
            ),
        ));
    }
    if body.len() as u64 != expected {
        return Err(checkpoint_error(
            path,
            format!(
                "corrupt: {} bytes after the table",
                body.len() as u64 - expected
            ),
        ));
    }
    let (data, tail) = body.split_at(body.len() - 8);
    let stored = u64::from_le_bytes(tail.try_into().unwrap_or([0; 8]));
    if fnv1a(data) != stored {
        return Err(checkpoint_error(path, "corrupt: checksum mismatch"));
    }
    Ok((header, algorithm, data))
}

/// Fills `table`, fresh from the header's config, with the checked table bytes `data` of
/// `layout` (see [`decode_header`]).
pub(super) fn read_table(
    path: &Path,
    layout: &TableLayout,
    data: &[u8],
    table: &mut QTable,
) -> Result<(), AgentError> {
    if layout.visits != table.track_visits || layout.tried_words != table.words as u64 {
        return Err(checkpoint_error(
            path,
            "corrupt: the table layout disagrees with the config",
        ));
    }
    let rows = layout.rows as usize;
    let cells = rows * layout.num_actions as usize;
    let (keys, rest) = data.split_at(rows * 8);
    let (values, rest) = rest.split_at(cells * 4);
    let visit_bytes = if layout.visits { cells * 4 } else { 0 };
    let (visits, tried) = rest.split_at(visit_bytes);
    for chunk in keys.chunks_exact(8) {
        let key = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let before = table.len();
        table.row_index(key);
        if table.len() == before {
            return Err(checkpoint_error(path, "corrupt: a state appears twice"));
        }
    }
    for (slot, chunk) in table.values.iter_mut().zip(values.chunks_exact(4)) {
        *slot = f32::from_le_bytes(chunk.try_into().unwrap_or([0; 4]));
    }
    for (slot, chunk) in table.visits.iter_mut().zip(visits.chunks_exact(4)) {
        *slot = u32::from_le_bytes(chunk.try_into().unwrap_or([0; 4]));
    }
    for (slot, chunk) in table.tried.iter_mut().zip(tried.chunks_exact(8)) {
        *slot = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    }
    Ok(())
}
