//! What can go wrong in the store, each with the operation it interrupted.
//! Messages name tables, ids and paths, never a key's secret or hash.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or configured (missing parent folder,
    /// no permission, not a database).
    #[error("cannot open the governance store at {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The file was written by a newer build (or by something else); using
    /// it could corrupt what that build wrote.
    #[error(
        "the governance store has schema version {found}; this build knows versions 0 to {known}"
    )]
    Schema { found: i64, known: i64 },
    #[error("governance store: {context}: {source}")]
    Sql {
        context: &'static str,
        source: rusqlite::Error,
    },
    /// A stored record no longer decodes as this build's type.
    #[error("governance store: the {table} record {id:?} cannot be read: {detail}")]
    Corrupt {
        table: &'static str,
        id: String,
        detail: String,
    },
    #[error("governance store: the {table} record {id:?} cannot be encoded: {detail}")]
    Encode {
        table: &'static str,
        id: String,
        detail: String,
    },
    /// Two key ids would authenticate the same secret.
    #[error("governance store: key {id:?} has the same secret as another stored key")]
    DuplicateKeyHash { id: String },
}

impl StoreError {
    /// True when another connection held the file: the same call may succeed
    /// later, so a writer keeps its rows and retries.
    pub fn is_busy(&self) -> bool {
        let source = match self {
            StoreError::Open { source, .. } | StoreError::Sql { source, .. } => source,
            _ => return false,
        };
        matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// Wraps a rusqlite error with the operation it interrupted.
pub(super) fn sql(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sql { context, source }
}
