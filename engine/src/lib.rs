//! lathe-engine: the graph model, compiler and real-time executor of lathe.
//!
//! The engine knows no concrete DSP node: kinds come from a [`Registry`] that other
//! crates fill (`lathe_nodes::register_all`). See the repository README for the graph
//! file format and DESIGN notes in `docs/`.

pub mod config;
pub mod control;
#[cfg(feature = "harness")]
pub mod harness;
pub mod meter;
pub mod node;
pub mod registry;
pub mod rt;
pub mod smooth;

pub use config::{ConfigError, NodeConfig};
pub use control::{ControlError, ControlSurface};
pub use meter::{MeterBank, MeterCell};
pub use node::{
    BuildContext, BuiltNode, Io, MeterSpec, NodeKind, NodeSpec, ParamId, ParamSpec, PortSpec,
    PrepareInfo, Processor, Unit,
};
pub use registry::Registry;
pub use smooth::{LinearSmoother, db_to_gain, db_to_gain_f64, gain_to_db};
