//! The graph model: parsing graph files, locating their parts, inlining subgraphs, and
//! writing graphs back out.

pub mod file;
pub mod flatten;
pub mod link;
pub mod locate;
pub mod save;

pub use file::{BusDecl, GraphDoc, LinkDecl, NodeDecl, ParamDecl, ParamValue};
