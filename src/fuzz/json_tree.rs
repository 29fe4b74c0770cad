//! JSON mutated at the token and value level: a seed is read into a small
//! tree that keeps every token's raw bytes (so duplicate keys, huge numbers
//! and odd escapes survive), changed there, and written back.

use super::json_words::{ATOMS, KEYS, STRING_BITS};
use super::mutate::{Rng, byte_edit};

#[derive(Debug, Clone)]
pub enum Node {
    /// Keys keep their quotes and escapes.
    Obj(Vec<(Vec<u8>, Node)>),
    Arr(Vec<Node>),
    /// A string (quotes included), number or literal, byte for byte.
    Atom(Vec<u8>),
}

pub fn parse(input: &[u8]) -> Option<Node> {
    let mut p = Parser { s: input, i: 0 };
    let node = p.value(0)?;
    p.ws();
    (p.i == input.len()).then_some(node)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b" \t\r\n".contains(b)) {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        self.ws();
        if depth > 512 {
            return None;
        }
        match *self.s.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut entries = Vec::new();
                loop {
                    self.ws();
                    match *self.s.get(self.i)? {
                        b'}' => break,
                        b',' => self.i += 1,
                        _ => {
                            let key = self.string()?;
                            self.ws();
                            (*self.s.get(self.i)? == b':').then_some(())?;
                            self.i += 1;
                            entries.push((key, self.value(depth + 1)?));
                        }
                    }
                }
                self.i += 1;
                Some(Node::Obj(entries))
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    match *self.s.get(self.i)? {
                        b']' => break,
                        b',' => self.i += 1,
                        _ => items.push(self.value(depth + 1)?),
                    }
                }
                self.i += 1;
                Some(Node::Arr(items))
            }
            b'"' => self.string().map(Node::Atom),
            _ => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| !b" \t\r\n,]}:".contains(b))
                {
                    self.i += 1;
                }
                (self.i > start).then(|| Node::Atom(self.s[start..self.i].to_vec()))
            }
        }
    }

    fn string(&mut self) -> Option<Vec<u8>> {
        let start = self.i;
        (*self.s.get(self.i)? == b'"').then_some(())?;
        self.i += 1;
        loop {
            match *self.s.get(self.i)? {
                b'\\' => self.i += 2,
                b'"' => break,
                _ => self.i += 1,
            }
        }
        self.i += 1;
        Some(self.s[start..self.i].to_vec())
    }
}

pub fn write(node: &Node, out: &mut Vec<u8>) {
    match node {
        Node::Atom(raw) => out.extend_from_slice(raw),
        Node::Arr(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Node::Obj(entries) => {
            out.push(b'{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(key);
                out.push(b':');
                write(value, out);
            }
            out.push(b'}');
        }
    }
}

fn count(node: &Node) -> usize {
    1 + match node {
        Node::Atom(_) => 0,
        Node::Arr(items) => items.iter().map(count).sum(),
        Node::Obj(entries) => entries.iter().map(|(_, v)| count(v)).sum(),
    }
}

/// The node at pre-order position `k`.
fn nth_mut<'a>(node: &'a mut Node, k: &mut usize) -> Option<&'a mut Node> {
    if *k == 0 {
        return Some(node);
    }
    *k -= 1;
    match node {
        Node::Atom(_) => None,
        Node::Arr(items) => items.iter_mut().find_map(|n| nth_mut(n, k)),
        Node::Obj(entries) => entries.iter_mut().find_map(|(_, n)| nth_mut(n, k)),
    }
}

fn random_subtree(rng: &mut Rng, pool: &[Vec<u8>]) -> Option<Node> {
    if pool.is_empty() {
        return None;
    }
    let seed: &Vec<u8> = rng.pick(pool);
    let mut tree = parse(seed)?;
    let mut k = rng.below(count(&tree));
    nth_mut(&mut tree, &mut k).map(|n| n.clone())
}

/// A known key, quoted.
fn key(rng: &mut Rng) -> Vec<u8> {
    format!("\"{}\"", KEYS[rng.below(KEYS.len())]).into_bytes()
}

fn atom(rng: &mut Rng) -> Node {
    Node::Atom(ATOMS[rng.below(ATOMS.len())].as_bytes().to_vec())
}

/// One value-level change at a random node of `tree`.
pub fn mutate_tree(rng: &mut Rng, tree: &mut Node, pool: &[Vec<u8>]) {
    let mut k = rng.below(count(tree));
    let Some(node) = nth_mut(tree, &mut k) else {
        return;
    };
    match rng.below(10) {
        0 | 1 => *node = atom(rng),
        2 => {
            if let Some(sub) = random_subtree(rng, pool) {
                *node = sub;
            }
        }
        3 => match node {
            Node::Obj(entries) if !entries.is_empty() => {
                let mut entry = rng.pick(entries).clone();
                if rng.one_in(2) {
                    entry.1 = atom(rng);
                }
                let at = rng.below(entries.len() + 1);
                entries.insert(at, entry);
            }
            Node::Arr(items) if !items.is_empty() => {
                let item = rng.pick(items).clone();
                let most = if rng.one_in(8) { 200 } else { 3 };
                for _ in 0..1 + rng.below(most) {
                    items.push(item.clone());
                }
            }
            _ => {}
        },
        4 => match node {
            Node::Obj(entries) if !entries.is_empty() => {
                let i = rng.below(entries.len());
                if rng.one_in(2) {
                    entries.remove(i);
                } else {
                    entries[i].0 = key(rng);
                }
            }
            Node::Arr(items) if !items.is_empty() => {
                items.remove(rng.below(items.len()));
            }
            _ => {}
        },
        5 => {
            let depth = if rng.one_in(50) {
                2000 + rng.below(3000)
            } else {
                1 + rng.below(40)
            };
            let mut inner = std::mem::replace(node, Node::Atom(Vec::new()));
            for _ in 0..depth {
                inner = if rng.one_in(2) {
                    Node::Arr(vec![inner])
                } else {
                    Node::Obj(vec![(key(rng), inner)])
                };
            }
            *node = inner;
        }
        6 => {
            *node = match std::mem::replace(node, Node::Atom(Vec::new())) {
                Node::Obj(entries) => Node::Arr(entries.into_iter().map(|(_, v)| v).collect()),
                Node::Arr(items) => Node::Obj(items.into_iter().map(|v| (key(rng), v)).collect()),
                Node::Atom(raw) if raw.first() == Some(&b'"') => Node::Arr(vec![Node::Atom(raw)]),
                Node::Atom(raw) => {
                    let mut s = b"\"".to_vec();
                    s.extend_from_slice(&raw);
                    s.push(b'"');
                    Node::Atom(s)
                }
            }
        }
        7 => {
            if let Node::Obj(entries) = node {
                let value = random_subtree(rng, pool).unwrap_or_else(|| atom(rng));
                let at = rng.below(entries.len() + 1);
                entries.insert(at, (key(rng), value));
            }
        }
        _ => {
            if let Node::Atom(raw) = node
                && raw.len() >= 2
                && raw[0] == b'"'
            {
                let at = 1 + rng.below(raw.len() - 1);
                let bit = STRING_BITS[rng.below(STRING_BITS.len())];
                let times = if rng.one_in(16) { 5000 } else { 1 };
                raw.splice(at..at, bit.repeat(times).into_bytes());
            }
        }
    }
}

/// A JSON input changed mostly at the value level, sometimes cut short or
/// edited byte-wise, so most inputs stay parseable and reach deep stages.
pub fn mutate_json(rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
    match (rng.below(10), parse(input)) {
        (0..=7, Some(mut tree)) => {
            mutate_tree(rng, &mut tree, pool);
            input.clear();
            write(&tree, input);
        }
        (8, _) if !input.is_empty() => {
            let len = input.len();
            input.truncate(rng.below(len));
        }
        (0..=7, None) if rng.one_in(2) && !pool.is_empty() => {
            *input = rng.pick(pool).clone();
        }
        _ => byte_edit(rng, input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_raw_tokens() {
        let text = br#"{"a":[1,1e999,"x\"y"],"a":{"b":null}}"#;
        let mut out = Vec::new();
        write(&parse(text).unwrap(), &mut out);
        assert_eq!(out, text);
    }
}
