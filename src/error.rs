//! One error type with stable codes, so JavaScript callers can branch on `code`
//! without parsing messages.

use std::fmt;

/// Stable, machine-readable error codes. The string forms never change once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The model bytes are not a loadable ONNX encoder (corrupt, truncated, wrong graph).
    BadModel,
    /// An input tensor or image has the wrong rank or shape.
    BadShape,
    /// A zero-width or zero-height image.
    EmptyImage,
    /// A blank image or no strokes: nothing to encode.
    NoInk,
    /// NaN or infinite values in an input.
    NotFinite,
    /// Options or metadata that cannot be used.
    BadOptions,
    /// An input of a kind the library does not take (not an image, strokes or embedding).
    BadInput,
    /// The model URL could not be fetched.
    FetchFailed,
    /// No identity with that id is enrolled.
    UnknownId,
    /// The id is already enrolled and `replace` was not asked for.
    DuplicateId,
    /// A gallery import is malformed; it was rejected whole.
    BadImport,
    /// The browser refused the write for lack of space; nothing was written.
    StorageFull,
    /// Any other storage failure (IndexedDB unavailable, blocked, aborted).
    StorageError,
    /// The stored embeddings (or an import) were made by another model.
    ModelMismatch,
    /// A face model found no face in the picture.
    NoFace,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadModel => "bad_model",
            ErrorCode::BadShape => "bad_shape",
            ErrorCode::EmptyImage => "empty_image",
            ErrorCode::NoInk => "no_ink",
            ErrorCode::NotFinite => "not_finite",
            ErrorCode::BadOptions => "bad_options",
            ErrorCode::BadInput => "bad_input",
            ErrorCode::FetchFailed => "fetch_failed",
            ErrorCode::UnknownId => "unknown_id",
            ErrorCode::DuplicateId => "duplicate_id",
            ErrorCode::BadImport => "bad_import",
            ErrorCode::StorageFull => "storage_full",
            ErrorCode::StorageError => "storage_error",
            ErrorCode::ModelMismatch => "model_mismatch",
            ErrorCode::NoFace => "no_face",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
