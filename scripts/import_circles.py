#!/usr/bin/env python3
"""Import circles among the files of one Rust crate.

Usage: circles.py CRATE_SRC_DIR

Each file is a module (lib.rs the root, foo.rs or foo/mod.rs `foo`, foo/bar.rs `foo::bar`).
Every `use` statement (multi-line and grouped ones too) and every path written in code
(outside comments) that starts with `crate::`, `super::` or `self::` is resolved to the
deepest module file it names: `use super::config::TabularConfig` in tabular/agent.rs is an
edge agent -> config, `use crate::Agent` an edge to lib.rs (whose `pub use` lines are edges
of their own). `mod` declarations are containment, not imports. Prints every file's edges
and each strongly connected component of more than one file (a circle); exit status 1 if any.
"""
import os, re, sys

root = sys.argv[1].rstrip('/')
files = {}
for dirpath, _, names in os.walk(root):
    for n in names:
        if n.endswith('.rs'):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)[:-3].split(os.sep)
            if rel[-1] in ('lib', 'main'):
                rel = rel[:-1]
            elif rel[-1] == 'mod':
                rel = rel[:-1]
            files[tuple(rel)] = p

def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    return '\n'.join(l.split('//')[0] if not l.strip().startswith('//') else '' for l in text.split('\n'))

def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']"""
    tree = tree.strip()
    m = re.match(r'^(.*?)::\{(.*)\}$', tree, re.S)
    if not m:
        return [tree] if tree else []
    head, body = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ''
    for ch in body:
        if ch == '{': depth += 1
        if ch == '}': depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        for q in expand(p):
            out.append(head + '::' + q if q != 'self' else head)
    return out

def resolve(module, path):
    segs = [s.strip() for s in path.split('::')]
    segs = [s.split(' as ')[0].strip() for s in segs]
    if not segs: return None
    if segs[0] == 'crate':
        base, rest = [], segs[1:]
    elif segs[0] in ('super', 'self'):
        base = list(module)
        # a file foo/bar.rs is module foo::bar: super is foo
        i = 0
        while i < len(segs) and segs[i] in ('super', 'self'):
            if segs[i] == 'super':
                base = base[:-1]
            i += 1
        rest = segs[i:]
    else:
        return None
    # an inline module is part of its file: climb to the file that holds it
    while base and tuple(base) not in files:
        base = base[:-1]
    best = tuple(base) if tuple(base) in files else None
    cur = list(base)
    for s in rest:
        cur.append(s)
        if tuple(cur) in files:
            best = tuple(cur)
        else:
            break
    return best

def inline_mods(text):
    """(start, end, name) of every inline `mod name { ... }` block."""
    out = []
    for mm in re.finditer(r'\bmod\s+(\w+)\s*\{', text):
        depth, i = 0, mm.end() - 1
        while i < len(text):
            if text[i] == '{': depth += 1
            elif text[i] == '}':
                depth -= 1
                if depth == 0: break
            i += 1
        out.append((mm.start(), i, mm.group(1)))
    return out

def module_at(m, blocks, pos):
    """The module a position lies in: the file's, plus enclosing inline modules."""
    inner = sorted((b for b in blocks if b[0] <= pos <= b[1]), key=lambda b: b[0])
    return m + tuple(b[2] for b in inner)

edges = {m: set() for m in files}
for m, p in files.items():
    text = strip_comments(open(p).read())
    blocks = inline_mods(text)
    paths = []
    for u in re.finditer(r'\buse\s+(\w+\b[^;]*);', text, re.S):
        tree = re.sub(r'\s+', ' ', u.group(1))
        first = re.split(r'::|\s|\{', tree)[0]
        if first not in ('crate', 'super', 'self'):
            if module_at(m, blocks, u.start()) + (first,) not in files:
                continue  # an extern crate or std
            tree = 'self::' + tree  # a child module, as written in a parent's `pub use`
        paths += [(u.start(), t) for t in expand(tree)]
    for u in re.finditer(r'(?<![\w:])((?:crate|super|self)(?:::\w+)+)', text):
        paths.append((u.start(), u.group(1)))
    for pos, path in paths:
        t = resolve(module_at(m, blocks, pos), path)
        if t is not None and t != m:
            edges[m].add(t)

name = lambda m: '::'.join(('crate',) + m)
for m in sorted(edges):
    print(f"{name(m):32} -> {', '.join(sorted(name(t) for t in edges[m])) or '-'}")

# Tarjan's strongly connected components
index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1:
            sccs.append(comp)
sys.setrecursionlimit(10000)
for v in edges:
    if v not in index:
        visit(v)
if sccs:
    for c in sccs:
        print('CIRCLE:', ' <-> '.join(sorted(name(m) for m in c)))
    sys.exit(1)
print('no circles')
