//! Compiler passes after ordering: latency compensation, buffer assignment with reuse,
//! and emission of the flat schedule the audio thread runs.

use std::sync::Arc;

use crate::compile::build::{BYPASS_SMOOTHING_MS, CNode};
use crate::compile::wire::{Edge, port_name};
use crate::compiled::{InsertedDelay, Op};
use crate::exec::delay::DelayLine;
use crate::exec::runtime::{Bypass, RtNode, Runtime, RuntimeStats};
use crate::graph::flatten::Role;
use crate::meter::meter_bank;
use crate::node::{ParamId, PrepareInfo};
use crate::smooth::LinearSmoother;

/// Latency facts of a planned graph.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    /// Per flat node: when its input is aligned, relative to the graph input (frames).
    pub input_frames: Vec<usize>,
    /// Per flat node: its own latency.
    pub own_frames: Vec<usize>,
    /// The whole graph's latency (every output bus is aligned to it).
    pub total_frames: usize,
}

/// What planning produced besides the runtime: for `lathe check`, dot and swaps.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub latencies: Latencies,
    pub delays: Vec<InsertedDelay>,
    /// Flat node index of each runtime node.
    pub runtime_nodes: Vec<usize>,
    /// Readable schedule, one op per line.
    pub schedule: Vec<String>,
    pub physical_buffers: usize,
    /// Per flat node: index of its first meter in the bank.
    pub meter_start: Vec<usize>,
}

const ZERO_BUF: u32 = 0;

/// Computes when each node's input is aligned and the graph's total latency.
pub fn latencies(nodes: &[Option<CNode>], edges: &[Edge], order: &[usize]) -> Latencies {
    latencies_with(nodes, edges, &incoming(nodes.len(), edges), order)
}

/// Indices of the edges into each node, in `edges` order (the order inputs are summed in,
/// which keeps renders bit-identical). Built once, so planning is linear in links.
fn incoming(nodes: usize, edges: &[Edge]) -> Vec<Vec<usize>> {
    let mut into = vec![Vec::new(); nodes];
    for (k, e) in edges.iter().enumerate() {
        into[e.to].push(k);
    }
    into
}

fn latencies_with(
    nodes: &[Option<CNode>],
    edges: &[Edge],
    into: &[Vec<usize>],
    order: &[usize],
) -> Latencies {
    let n = nodes.len();
    let mut input = vec![0usize; n];
    let mut own = vec![0usize; n];
    let mut out = vec![0usize; n];
    for &i in order {
        let node = nodes[i].as_ref().expect("ordered nodes are built");
        own[i] = if node.role == Role::Leaf {
            node.spec.latency_frames
        } else {
            0
        };
        input[i] = into[i]
            .iter()
            .map(|&k| out[edges[k].from])
            .max()
            .unwrap_or(0);
        out[i] = input[i] + own[i];
    }
    let total = order
        .iter()
        .filter(|&&i| {
            matches!(
                nodes[i].as_ref().map(|c| &c.role),
                Some(Role::GraphOut { .. })
            )
        })
        .map(|&i| input[i])
        .max()
        .unwrap_or(0);
    for &i in order {
        if matches!(
            nodes[i].as_ref().map(|c| &c.role),
            Some(Role::GraphOut { .. })
        ) {
            input[i] = total;
        }
    }
    Latencies {
        input_frames: input,
        own_frames: own,
        total_frames: total,
    }
}

/// Virtual buffer ops before physical assignment.
struct Planner {
    ops: Vec<Op>,
    vbufs: u32,
    delays: Vec<(DelayLine, InsertedDelay)>,
}

impl Planner {
    fn new_buf(&mut self) -> u32 {
        self.vbufs += 1;
        self.vbufs // 0 is the shared zero buffer
    }
}

/// Builds the runtime. `nodes` loses its processors to it.
pub fn plan(
    nodes: &mut [Option<CNode>],
    edges: &[Edge],
    order: &[usize],
    prepare: PrepareInfo,
    input_channels: &[usize],
    output_channels: &[usize],
) -> (Runtime, Plan) {
    let into = incoming(nodes.len(), edges);
    let lat = latencies_with(nodes, edges, &into, order);
    let mut p = Planner {
        ops: Vec::new(),
        vbufs: 0,
        delays: Vec::new(),
    };
    let mut out_bufs: Vec<Vec<Vec<u32>>> = vec![Vec::new(); nodes.len()];
    let mut rt_index = vec![u32::MAX; nodes.len()];
    let mut runtime_nodes = Vec::new();
    let mut node_bufs: Vec<(Vec<u32>, Vec<u32>, Vec<bool>)> = Vec::new();
    let in_offsets = offsets(input_channels);
    let out_offsets = offsets(output_channels);

    for &i in order {
        let node = nodes[i].as_ref().expect("ordered nodes are built");
        match node.role {
            Role::GraphIn { bus } => {
                let bufs: Vec<u32> = (0..input_channels[bus])
                    .map(|ch| {
                        let v = p.new_buf();
                        p.ops.push(Op::Input {
                            host_ch: (in_offsets[bus] + ch) as u32,
                            dst: v,
                        });
                        v
                    })
                    .collect();
                out_bufs[i] = vec![bufs];
            }
            Role::GraphOut { bus } => {
                let (bufs, fed) = gather(&mut p, nodes, (edges, &into), &lat, &out_bufs, i, 0);
                for (ch, &src) in bufs.iter().enumerate().take(output_channels[bus]) {
                    let host_ch = (out_offsets[bus] + ch) as u32;
                    p.ops.push(if fed {
                        Op::Output { src, host_ch }
                    } else {
                        Op::OutputSilence { host_ch }
                    });
                }
            }
            Role::Leaf => {
                let mut ins = Vec::new();
                let mut connected = Vec::new();
                for port in 0..node.spec.inputs.len() {
                    let (bufs, fed) =
                        gather(&mut p, nodes, (edges, &into), &lat, &out_bufs, i, port);
                    ins.extend(bufs);
                    connected.push(fed);
                }
                let outs: Vec<Vec<u32>> = node
                    .spec
                    .outputs
                    .iter()
                    .map(|port| (0..port.channels).map(|_| p.new_buf()).collect())
                    .collect();
                rt_index[i] = runtime_nodes.len() as u32;
                p.ops.push(Op::Process {
                    node: runtime_nodes.len() as u32,
                });
                runtime_nodes.push(i);
                node_bufs.push((ins, outs.concat(), connected));
                out_bufs[i] = outs;
            }
            Role::Junction { .. } => unreachable!("junctions are dissolved before planning"),
        }
    }

    let (ops, physical) = assign_physical(&p.ops, p.vbufs, &node_bufs);
    let schedule = describe_ops(&ops, nodes, &runtime_nodes, &p.delays);
    let stride = prepare.max_block_frames;

    let mut meter_start = vec![0usize; nodes.len()];
    let mut meter_total = 0;
    for &i in &runtime_nodes {
        meter_start[i] = meter_total;
        meter_total += nodes[i].as_ref().map_or(0, |n| n.spec.meters.len());
    }
    let meters = meter_bank(meter_total);

    let mut rt_nodes = Vec::with_capacity(runtime_nodes.len());
    for (k, &i) in runtime_nodes.iter().enumerate() {
        let node = nodes[i].as_mut().expect("planned nodes are built");
        let (ins, outs, connected) = &node_bufs[k];
        let map = |v: &u32| physical.map[*v as usize];
        let mut processor = node.processor.take().expect("leaf nodes have processors");
        let bypass_param = node.processor_params() as u32;
        for (pi, value) in node.values.iter().enumerate().take(bypass_param as usize) {
            processor.set_param(ParamId(pi as u32), *value);
        }
        processor.reset();
        rt_nodes.push(RtNode {
            processor,
            in_bufs: ins.iter().map(map).collect(),
            out_bufs: outs.iter().map(map).collect(),
            connected: connected.clone().into_boxed_slice(),
            meter_start: meter_start[i],
            meter_count: node.spec.meters.len(),
            bypass_param,
            bypass: bypass_for(node, prepare),
            values: node.values.clone().into_boxed_slice(),
        });
    }

    let (lines, inserted): (Vec<DelayLine>, Vec<InsertedDelay>) = p.delays.into_iter().unzip();
    let runtime = Runtime {
        generation: 0,
        prepare,
        pool: vec![0.0; (physical.count + 1) * stride].into_boxed_slice(),
        ops: ops.into_boxed_slice(),
        stats: Arc::new(RuntimeStats::new(rt_nodes.len())),
        nodes: rt_nodes.into_boxed_slice(),
        delays: lines.into_boxed_slice(),
        meters,
        scratch: vec![0.0; stride].into_boxed_slice(),
        position_frames: 0,
        handover: crate::exec::runtime::Handover::Crossfade { warmup_frames: 0 },
        carry_delays: Box::new([]),
        fades: Box::new([]),
        tap: crate::exec::tap::TapBuffer::new(stride),
    };
    let plan = Plan {
        latencies: lat,
        delays: inserted,
        runtime_nodes,
        schedule,
        physical_buffers: physical.count + 1,
        meter_start,
    };
    (runtime, plan)
}

fn offsets(channels: &[usize]) -> Vec<usize> {
    channels
        .iter()
        .scan(0, |acc, &c| {
            let start = *acc;
            *acc += c;
            Some(start)
        })
        .collect()
}

/// The buffers an input port reads: the source's own buffers when one undelayed link
/// feeds it (no copy), else a fresh buffer summed from every link, each delayed so all
/// arrive aligned. Returns (buffers, whether anything feeds the port).
fn gather(
    p: &mut Planner,
    nodes: &[Option<CNode>],
    (edges, into): (&[Edge], &[Vec<usize>]),
    lat: &Latencies,
    out_bufs: &[Vec<Vec<u32>>],
    to: usize,
    port: usize,
) -> (Vec<u32>, bool) {
    let node = nodes[to].as_ref().expect("built");
    let channels = node.spec.inputs[port].channels;
    let feeding: Vec<&Edge> = into[to]
        .iter()
        .map(|&k| &edges[k])
        .filter(|e| e.to_port == port)
        .collect();
    let delay_of =
        |e: &Edge| lat.input_frames[to] - (lat.input_frames[e.from] + lat.own_frames[e.from]);
    match feeding.as_slice() {
        [] => return (vec![ZERO_BUF; channels], false),
        [e] if delay_of(e) == 0 => return (out_bufs[e.from][e.from_port].clone(), true),
        _ => {}
    }
    let dst: Vec<u32> = (0..channels).map(|_| p.new_buf()).collect();
    for (k, e) in feeding.iter().enumerate() {
        let delay = delay_of(e);
        let from = nodes[e.from].as_ref().expect("built");
        for ch in 0..channels {
            let src = out_bufs[e.from][e.from_port][ch];
            let add = k > 0;
            if delay > 0 {
                let key = format!(
                    "{}->{}#{ch}",
                    port_name(from, e.from_port, false),
                    port_name(node, port, true)
                );
                p.delays
                    .push((DelayLine::new(delay), InsertedDelay { key, frames: delay }));
                p.ops.push(Op::Delay {
                    line: (p.delays.len() - 1) as u32,
                    src,
                    dst: dst[ch],
                    add,
                });
            } else if add {
                p.ops.push(Op::Add { src, dst: dst[ch] });
            } else {
                p.ops.push(Op::Copy { src, dst: dst[ch] });
            }
        }
    }
    (dst, true)
}

struct Physical {
    /// Virtual buffer -> physical buffer.
    map: Vec<u32>,
    count: usize,
}

/// Gives each virtual buffer a physical one, reusing buffers whose last reader has run.
fn assign_physical(
    ops: &[Op],
    vbufs: u32,
    node_bufs: &[(Vec<u32>, Vec<u32>, Vec<bool>)],
) -> (Vec<Op>, Physical) {
    let n = vbufs as usize + 1;
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    let touch = |v: u32, i: usize, first: &mut Vec<usize>, last: &mut Vec<usize>| {
        let v = v as usize;
        first[v] = first[v].min(i);
        last[v] = last[v].max(i);
    };
    for (i, op) in ops.iter().enumerate() {
        for v in op_bufs(op, node_bufs) {
            touch(v, i, &mut first, &mut last);
        }
    }
    let mut map = vec![ZERO_BUF; n];
    let mut free: Vec<u32> = Vec::new();
    let mut count = 0usize;
    for (i, op) in ops.iter().enumerate() {
        let bufs = op_bufs(op, node_bufs);
        for &v in &bufs {
            if v != ZERO_BUF && first[v as usize] == i {
                map[v as usize] = free.pop().unwrap_or_else(|| {
                    count += 1;
                    count as u32
                });
            }
        }
        for &v in &bufs {
            if v != ZERO_BUF && last[v as usize] == i && !free.contains(&map[v as usize]) {
                free.push(map[v as usize]);
            }
        }
    }
    let m = |v: u32| map[v as usize];
    let ops = ops
        .iter()
        .map(|op| match *op {
            Op::Input { host_ch, dst } => Op::Input {
                host_ch,
                dst: m(dst),
            },
            Op::Copy { src, dst } => Op::Copy {
                src: m(src),
                dst: m(dst),
            },
            Op::Add { src, dst } => Op::Add {
                src: m(src),
                dst: m(dst),
            },
            Op::Delay {
                line,
                src,
                dst,
                add,
            } => Op::Delay {
                line,
                src: m(src),
                dst: m(dst),
                add,
            },
            Op::Output { src, host_ch } => Op::Output {
                src: m(src),
                host_ch,
            },
            other => other,
        })
        .collect();
    (ops, Physical { map, count })
}

fn op_bufs(op: &Op, node_bufs: &[(Vec<u32>, Vec<u32>, Vec<bool>)]) -> Vec<u32> {
    match *op {
        Op::Input { dst, .. } => vec![dst],
        Op::Copy { src, dst } | Op::Add { src, dst } | Op::Delay { src, dst, .. } => vec![src, dst],
        Op::Process { node } => {
            let (ins, outs, _) = &node_bufs[node as usize];
            ins.iter().chain(outs).copied().collect()
        }
        Op::Output { src, .. } => vec![src],
        Op::OutputSilence { .. } => vec![],
    }
}

fn bypass_for(node: &CNode, prepare: PrepareInfo) -> Bypass {
    let mut pairs = Vec::new();
    let mut in_start = 0;
    let mut out_start = 0;
    let mut paired_out = vec![false; node.spec.output_channels()];
    for (p, out_port) in node.spec.outputs.iter().enumerate() {
        if let Some(in_port) = node.spec.inputs.get(p)
            && in_port.channels == out_port.channels
        {
            for ch in 0..out_port.channels {
                pairs.push(((in_start + ch) as u32, (out_start + ch) as u32));
                paired_out[out_start + ch] = true;
            }
        }
        in_start += node.spec.inputs.get(p).map_or(0, |q| q.channels);
        out_start += out_port.channels;
    }
    let latency = node.spec.latency_frames;
    let bypass_value = node.values.last().copied().unwrap_or(0.0);
    Bypass {
        amount: LinearSmoother::new(bypass_value, BYPASS_SMOOTHING_MS, prepare.sample_rate_hz),
        dry: pairs.iter().map(|_| DelayLine::new(latency)).collect(),
        pairs: pairs.into_boxed_slice(),
        unpaired: paired_out
            .iter()
            .enumerate()
            .filter(|(_, p)| !**p)
            .map(|(i, _)| i as u32)
            .collect(),
    }
}

fn describe_ops(
    ops: &[Op],
    nodes: &[Option<CNode>],
    runtime_nodes: &[usize],
    delays: &[(DelayLine, InsertedDelay)],
) -> Vec<String> {
    ops.iter()
        .map(|op| match *op {
            Op::Input { host_ch, dst } => format!("input   host channel {host_ch} -> buf {dst}"),
            Op::Copy { src, dst } => format!("copy    buf {src} -> buf {dst}"),
            Op::Add { src, dst } => format!("add     buf {src} -> buf {dst}"),
            Op::Delay {
                line,
                src,
                dst,
                add,
            } => format!(
                "delay   buf {src} -> buf {dst}{} by {} frames ({})",
                if add { " (add)" } else { "" },
                delays[line as usize].1.frames,
                delays[line as usize].1.key
            ),
            Op::Process { node } => {
                let n = nodes[runtime_nodes[node as usize]].as_ref().expect("built");
                format!("process {} ({})", n.id, n.kind)
            }
            Op::Output { src, host_ch } => format!("output  buf {src} -> host channel {host_ch}"),
            Op::OutputSilence { host_ch } => format!("output  silence -> host channel {host_ch}"),
        })
        .collect()
}
