//! The graph model: parsing graph files, locating their parts, inlining subgraphs, and
//! writing graphs back out.

pub mod file;
pub mod flatten;
pub mod limits;
pub mod link;
pub mod locate;
pub mod save;
pub mod source_file;
pub mod value_text;

pub use file::{BusDecl, GraphDoc, LinkDecl, NodeDecl, ParamDecl, ParamValue};
pub use source_file::{MAX_SOURCE_FILE_BYTES, SourceFileError, read_source_text};
pub use value_text::ValueTextError;
