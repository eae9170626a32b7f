//! lathe-engine: the graph model, compiler and real-time executor of lathe.
//!
//! The engine knows no concrete DSP node: kinds come from a [`Registry`] that other
//! crates fill (`lathe_nodes::register_all`). A host:
//! 1. parses a graph file ([`GraphDoc::load`]) and compiles it ([`compile`]) with a
//!    [`CompileOptions`] (sample rate, max block, `--set` overrides): every problem is
//!    reported at once in a [`GraphError`];
//! 2. splits the result with [`engine`] into an [`Engine`] (audio thread: `process`) and a
//!    [`Controller`] (any other thread: params, meters, graph swaps);
//! 3. calls `Engine::process` with blocks of any size.
//!
//! The graph file format is documented in `docs/graph-format.md`.

pub mod bounded_line;
pub mod compile;
pub mod compiled;
pub mod config;
pub mod control;
pub mod dot;
pub mod exec;
pub mod file_identity;
pub mod graph;
#[cfg(feature = "harness")]
pub mod harness;
pub mod meter;
pub mod node;
pub mod offline;
pub mod param_table;
pub mod problem;
pub mod registry;
pub mod rt;
pub mod smooth;
pub mod tasks;

pub use compile::{CompileOptions, compile, compile_file};
pub use compiled::{BusInfo, GraphInfo, InsertedDelay, LinkInfo, NodeInfo};
pub use config::{ConfigError, NodeConfig};
pub use control::{ControlError, ControlSurface};
pub use exec::{CompiledGraph, Controller, Engine, SwapError, engine};
pub use graph::{GraphDoc, ParamValue};
pub use meter::{MeterBank, MeterCell};
pub use node::{
    BuildContext, BuiltNode, Io, MeterSpec, NodeKind, NodeSpec, ParamId, ParamSpec, PortSpec,
    PrepareInfo, Processor, Unit,
};
pub use param_table::{ParamDecl, ParamFamily, ParamMap, ParamRoutes, ParamTable};
pub use problem::{GraphError, Location, Problem};
pub use registry::Registry;
pub use smooth::{LinearSmoother, db_to_gain, db_to_gain_f64, gain_to_db};
pub use tasks::{ControlTask, ControlTasks, TaskError, TaskReport};
