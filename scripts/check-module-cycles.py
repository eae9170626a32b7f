#!/usr/bin/env python3
"""Checks that no crate of the workspace has an import cycle between its modules, and
that no node kind imports another kind. Exits 1 listing what it found, 0 otherwise.

    python3 scripts/check-module-cycles.py [-v] [--root DIR]

`-v` also prints the size of each crate's module graph; `--root` checks another
checkout (the workspace root, holding `engine/`, `nodes/`, ...).

Dependency-free: it reads the sources, it does not compile them. What it counts:

- A *module* is every Rust module: the crate root (lib.rs / main.rs), each file module
  (`a.rs`, `a/mod.rs`) and each inline module (`mod tests { ... }`).
- An *import* of module B by module A is any path in A's code (outside comments and
  string literals) that names B: `use crate::a::b::Item`, a `use` group
  `use super::{x, y::Z}`, a path in an expression or type (`crate::a::b::f()`,
  `super::Thing`, `$crate::...` in macros), `self::` and `super::` resolved from A, and
  paths that start with a child module of A or with a name A imported as a module.
  A path names the deepest module it walks through (`crate::a::b::Item` names `a::b`
  when `b` is a module, `a` when `b` is an item of `a`).
- A `mod` declaration is not an import: a parent declaring its child is ownership.
  A child naming its parent (`super::Audio`) or a sibling (`super::sibling::X`) imports it.
- Facades: a module naming its own descendants (`pub use child::Thing`, or
  `child::f()` in the parent) is not counted as an import, so the usual
  `mod.rs` that declares children and re-exports their public items does not make
  every child that uses `super::Shared` a cycle. Instead re-exports are looked
  through: when A names `parent::Thing` and `parent` re-exports `Thing` from its child C
  (`pub use c::Thing` / `pub use self::c::{Thing, ..}`), A is counted as importing C.
  A cycle hidden behind a facade is therefore still found. (Glob re-exports,
  `pub use c::*`, cannot be looked through without compiling; they count as the
  facade itself.)
- Paths into other crates (`lathe_engine::...`, `std::...`) are not module imports:
  cargo already forbids cycles between crates. A crate is read from its `lib.rs` (or
  `main.rs` where there is no library); a `main.rs` beside a `lib.rs` is a separate crate
  that uses the library by name, so it cannot close a cycle inside it.

Every cycle is reported as the set of modules that reach each other (a strongly
connected component), with the import edges inside it and where each edge is written.

The kinds rule: once `nodes/src/kinds/` exists, a module under `kinds::x` (the kind `x`
and its submodules) must not import a module under `kinds::y` for any other kind `y`.
Kinds share code through the DSP primitives, not through each other.
"""

import os
import re
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = ["engine/src", "nodes/src", "scripting/src", "host/src", "src"]
KINDS_CRATE = "nodes/src"
KINDS_MODULE = "kinds"

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
KEYWORDS_START = {"crate", "super", "self"}


def strip_code(text):
    """The text with comments, string and char literals blanked (newlines kept, so
    line numbers still hold)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and not prev_ident(text, i):
            m = re.match(r'r(#*)"', text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + len(m.group(0)))
            j = n if j < 0 else j + len(close)
            out.append(blank(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(blank(text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:  # a lifetime or a label
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def prev_ident(text, i):
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")


def blank(s):
    return "".join(ch if ch == "\n" else " " for ch in s)


class Module:
    def __init__(self, path, file, parent):
        self.path = path  # tuple of names; () is the crate root
        self.file = file
        self.parent = parent
        self.children = {}  # name -> Module
        self.code = []  # (line, text) pieces of this module's own code
        self.uses = []  # (line, segments) from use trees
        self.reexports = {}  # name -> segments (pub use ...)
        self.aliases = {}  # name bound by `use` -> segments

    def name(self):
        return "crate" + "".join("::" + p for p in self.path)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def parse_use_tree(tree):
    """Expands a use tree (`a::{b, c::d as e}`) to (segments, bound name) pairs."""
    tree = re.sub(r"\s+", "", tree)
    results = []

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        return parts

    def walk(prefix, s):
        if not s:
            return
        brace = s.find("{")
        if brace >= 0 and s.endswith("}"):
            head = s[:brace].rstrip(":")
            segs = prefix + [x for x in head.split("::") if x]
            for part in split_top(s[brace + 1:-1]):
                walk(segs, part)
            return
        alias = None
        segs = prefix + [x for x in s.split("::") if x]
        if segs and segs[-1] == "self":
            segs = segs[:-1]
        results.append((segs, alias))

    walk([], tree)
    return results


USE_RE = re.compile(r"(?<![A-Za-z0-9_])(pub(\s*\([^)]*\))?\s+)?use\s+([^;]*);")
MOD_RE = re.compile(r"(?<![A-Za-z0-9_])mod\s+(" + IDENT + r")\s*([;{])")
PATH_RE = re.compile(r"(?<![A-Za-z0-9_:])(\$?" + IDENT + r"(?:\s*::\s*" + IDENT + r")+)")


def split_use_alias(tree):
    """Use trees with `as` renames: returns the tree with renames removed and a map
    original-last-segment -> new name is not needed; renames only change the bound
    name, which is recorded separately."""
    renames = {}

    def repl(m):
        renames[m.group(2)] = m.group(1)
        return m.group(1)

    # `path::name as alias`
    cleaned = re.sub(r"(" + IDENT + r")\s+as\s+(" + IDENT + r")", repl, tree)
    return cleaned, renames


class Crate:
    def __init__(self, src_dir):
        self.src_dir = src_dir
        self.modules = {}
        root_file = None
        for name in ("lib.rs", "main.rs"):
            p = os.path.join(ROOT, src_dir, name)
            if os.path.exists(p):
                root_file = p
                break
        if root_file:
            self.load_file(root_file, (), None, os.path.join(ROOT, src_dir))

    def load_file(self, file, path, parent, child_dir):
        with open(file, encoding="utf-8") as f:
            raw = f.read()
        code = strip_code(raw)
        module = Module(path, os.path.relpath(file, ROOT), parent)
        self.modules[path] = module
        if parent:
            parent.children[path[-1]] = module
        self.parse_body(module, code, 0, len(code), child_dir, raw)
        return module

    def parse_body(self, module, code, start, end, child_dir, raw):
        pos = start
        own = []
        while pos < end:
            m = MOD_RE.search(code, pos, end)
            if not m:
                own.append((pos, code[pos:end]))
                break
            own.append((pos, code[pos:m.start()]))
            name, kind = m.group(1), m.group(2)
            child_path = module.path + (name,)
            if kind == ";":
                attr = re.search(r'#\[path\s*=\s*"([^"]+)"\]\s*(pub(\([^)]*\))?\s+)?$',
                                 raw[max(0, m.start() - 200):m.start()])
                candidates = []
                if attr:
                    candidates.append(os.path.join(child_dir, attr.group(1)))
                candidates += [os.path.join(child_dir, name + ".rs"),
                               os.path.join(child_dir, name, "mod.rs")]
                for c in candidates:
                    if os.path.exists(c):
                        sub_dir = (os.path.dirname(c) if c.endswith("mod.rs")
                                   else os.path.join(child_dir, name))
                        self.load_file(c, child_path, module, sub_dir)
                        break
                pos = m.end()
            else:
                close = match_brace(code, m.end() - 1)
                child = Module(child_path, module.file, module)
                self.modules[child_path] = child
                module.children[name] = child
                self.parse_body(child, code, m.end(), close, os.path.join(child_dir, name), raw)
                pos = close + 1
        for offset, text in own:
            self.collect(module, code, offset, text)

    def collect(self, module, code, offset, text):
        """Records the use trees and the remaining code of one stretch of a module."""
        rest = []
        last = 0
        for m in USE_RE.finditer(text):
            line = line_of(code, offset + m.start())
            public = bool(m.group(1))
            tree, renames = split_use_alias(m.group(3))
            for segs, _ in parse_use_tree(tree):
                if not segs or segs[-1] == "*":
                    segs = [s for s in segs if s != "*"]
                    if segs:
                        module.uses.append((line, segs))
                    continue
                bound = segs[-1]
                for new, old in renames.items():
                    if old == bound:
                        bound = new
                module.uses.append((line, segs))
                module.aliases[bound] = segs
                if public:
                    module.reexports[bound] = segs
            rest.append((offset + last, text[last:m.start()]))
            last = m.end()
        rest.append((offset + last, text[last:]))
        for off, piece in rest:
            module.code.append((off, piece, code))

    # Resolution ----------------------------------------------------------------------

    def start_of(self, module, first, aliases=True):
        """The module a path's first segment names, seen from `module`, or None for a
        path into another crate or an item."""
        if first in ("crate", "$crate"):
            return self.modules[()]
        if first == "self":
            return module
        if first == "super":
            return module.parent
        if first in module.children:
            return module.children[first]
        if aliases and first in module.aliases:
            # A use path starts at a module or crate, never at another use's alias.
            return self.resolve(module, module.aliases[first], follow=False, aliases=False)
        return None

    def resolve(self, module, segs, follow=True, depth=0, aliases=True):
        """The module `segs` (written in `module`) names, looking through re-exports."""
        if not segs or depth > 8:
            return None
        cur = self.start_of(module, segs[0], aliases)
        if cur is None:
            return None
        i = 1
        while i < len(segs):
            s = segs[i]
            if s == "super" and cur.parent is not None:
                cur = cur.parent
            elif s == "self":
                pass
            elif s in cur.children:
                cur = cur.children[s]
            else:
                break
            i += 1
        if follow and i < len(segs) and segs[i] in cur.reexports:
            target = self.resolve(cur, cur.reexports[segs[i]], follow=True, depth=depth + 1)
            if target is not None and is_within(target.path, cur.path):
                return target
        return cur

    def edges(self):
        """(from, to) -> [(file, line)] for every import between modules."""
        found = defaultdict(list)
        for module in self.modules.values():
            refs = list(module.uses)
            for off, piece, code in module.code:
                for m in PATH_RE.finditer(piece):
                    segs = [s.strip() for s in m.group(1).split("::")]
                    refs.append((line_of(code, off + m.start()), segs))
            for line, segs in refs:
                target = self.resolve(module, segs)
                if target is None or target is module:
                    continue
                if is_within(target.path, module.path):
                    continue  # a parent naming its own descendant: a facade
                found[(module.path, target.path)].append((module.file, line))
        return found


def match_brace(code, open_pos):
    depth = 0
    for i in range(open_pos, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(code) - 1


def is_within(path, ancestor):
    return path[:len(ancestor)] == ancestor


def strongly_connected(nodes, adjacency):
    """Tarjan's algorithm, iterative."""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []
    counter = [0]
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(adjacency.get(start, ())))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(adjacency.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                comps.append(comp)
    return comps


def name(path):
    return "crate" + "".join("::" + p for p in path)


def main():
    global ROOT
    args = sys.argv[1:]
    verbose = "-v" in args
    if "--root" in args:
        ROOT = os.path.abspath(args[args.index("--root") + 1])
    failures = 0
    for src in CRATES:
        if not os.path.isdir(os.path.join(ROOT, src)):
            continue
        crate = Crate(src)
        edges = crate.edges()
        adjacency = defaultdict(set)
        for a, b in edges:
            adjacency[a].add(b)
        if verbose:
            print(f"{src}: {len(crate.modules)} modules, {len(edges)} imports")
        for comp in strongly_connected(sorted(crate.modules), adjacency):
            if len(comp) < 2:
                continue
            failures += 1
            members = sorted(comp)
            print(f"{src}: import cycle between {', '.join(name(p) for p in members)}")
            inside = set(comp)
            for (a, b), where in sorted(edges.items()):
                if a in inside and b in inside:
                    file, line = where[0]
                    more = f" (+{len(where) - 1} more)" if len(where) > 1 else ""
                    print(f"    {name(a)} -> {name(b)}   {file}:{line}{more}")
        if src == KINDS_CRATE and (KINDS_MODULE,) in crate.modules:
            for (a, b), where in sorted(edges.items()):
                if (len(a) >= 2 and len(b) >= 2 and a[0] == KINDS_MODULE
                        and b[0] == KINDS_MODULE and a[1] != b[1]):
                    failures += 1
                    file, line = where[0]
                    print(f"{src}: kind {a[1]} imports kind {b[1]}: "
                          f"{name(a)} -> {name(b)}   {file}:{line}")
    if failures:
        print(f"{failures} problem(s): module import cycles or kinds importing kinds")
        return 1
    if verbose:
        print("no import cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
