//! The size limits of a graph, in one place: the parser, the flattener and the docs
//! (docs/graph-format.md, "Resource limits") refer to these.
//!
//! They bound what a few small files can make the compiler build: subgraphs nest, so
//! without them 16 files of two nodes each stand for 65,536 nodes.

/// Deepest subgraph nesting accepted (a guard against runaway includes).
pub const MAX_SUBGRAPH_DEPTH: usize = 16;
/// Most nodes a graph may have once its subgraphs are inlined (bus junctions included).
/// A large mastering graph has some hundreds.
pub const MAX_GRAPH_NODES: usize = 4096;
/// Most links a graph may have once its subgraphs are inlined (a chain `a -> b -> c`
/// counts 2).
pub const MAX_GRAPH_LINKS: usize = 16_384;
