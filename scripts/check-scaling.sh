#!/usr/bin/env bash
# check-scaling.sh: how `lathe check` (parse, flatten, compile) grows with graph size.
#
#   scripts/check-scaling.sh BINARY [RUNS]
#
# Writes three shapes of gain-node graphs at 1000, 2000 and 4000 nodes (the limit is
# 4096), all on one line as a generated file would be: a chain (`in -> g0 -> g1 -> ... ->
# out`), a fan (`in` into every node, every node into `out`) and a chain of subgraph
# instances (a third as many, each a gain between its bus junctions: as many nodes once
# inlined), and prints the median CPU time (user + system) of RUNS checks of each. Linear
# growth doubles the time with the size.
set -euo pipefail
bin=$(realpath "$1")
runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$bin" "$runs" "$work" <<'PY'
import resource, subprocess, sys
bin, runs, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def write(name, nodes, links):
    path = f"{work}/{name}.ron"
    with open(path, "w") as f:
        f.write(f"(nodes: [{nodes}], links: [{links}])")
    return path
def cpu(path):
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([bin, "check", path], check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return sorted(times)[len(times) // 2]
with open(f"{work}/sub.ron", "w") as f:
    f.write('(nodes: [(id: "a", kind: "gain")], links: ["in -> a -> out"])')
print("| nodes | chain: CPU s | fan: CPU s | subgraphs: CPU s |\n|---|---|---|---|")
for n in (1000, 2000, 4000):
    ids = [f"g{i}" for i in range(n)]
    nodes = "".join(f'(id: "{g}", kind: "gain"),' for g in ids)
    chain = "".join(f'"{a} -> {b}",' for a, b in zip(["in"] + ids, ids)) + f'"{ids[-1]} -> out"'
    fan = "".join(f'"in -> {g}", "{g} -> out",' for g in ids)
    subs = [f"s{i}" for i in range(n // 3)]
    sub_nodes = "".join(f'(id: "{s}", kind: "sub.ron"),' for s in subs)
    sub_chain = "".join(f'"{a} -> {b}",' for a, b in zip(["in"] + subs, subs)) + f'"{subs[-1]} -> out"'
    row = [cpu(write(f"chain{n}", nodes, chain)), cpu(write(f"fan{n}", nodes, fan)),
           cpu(write(f"subs{n}", sub_nodes, sub_chain))]
    print(f"| {n} | " + " | ".join(f"{t:.3f}" for t in row) + " |")
PY
