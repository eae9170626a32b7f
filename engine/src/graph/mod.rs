//! The graph model: parsing graph files, locating their parts, inlining subgraphs, and
//! writing graphs back out.

pub mod file;
pub mod flatten;
pub mod link;
pub mod locate;
pub mod save;
pub mod value_text;

pub use file::{BusDecl, GraphDoc, LinkDecl, NodeDecl, ParamDecl, ParamValue};
pub use value_text::ValueTextError;
