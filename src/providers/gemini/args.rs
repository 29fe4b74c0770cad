//! Assembles one function call's arguments from Gemini's streamed
//! `partialArgs` (leaf values addressed by JSON path, long strings split into
//! pieces) into a complete JSON object text, keys in arrival order.

use std::borrow::Cow;

use simd_json::OwnedValue;
use simd_json::StaticNode;

use super::wire::PartialArg;
use crate::canonical::json;

/// Array indexes beyond this are refused: a hostile path must not make us
/// allocate gigabytes of `null`s.
const MAX_INDEX: usize = 1 << 16;

/// Null slots one call may gain from indexes past an array's end. Paths
/// arrive in order, so real arguments pad nothing; without a bound a 2 KB
/// event of `$.a[65536][65536]…` paths made us hold gigabytes.
const MAX_PADDING: usize = 1 << 12;

/// A `partialArgs` entry we cannot place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unusable partialArgs path {0:?}")]
pub struct BadPath(pub String);

#[derive(Debug)]
enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Str(String),
    /// Number, bool or null, written back as parsed.
    Scalar(OwnedValue),
}

#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Key(Cow<'a, str>),
    Index(usize),
}

/// The arguments of one call still being streamed.
#[derive(Debug)]
pub struct ArgsAssembler {
    root: Node,
    /// The path of a string leaf whose last piece said `willContinue`.
    open_string: Option<String>,
    /// Null slots added so far to reach indexes past an array's end.
    padding: usize,
}

impl Default for ArgsAssembler {
    fn default() -> Self {
        ArgsAssembler {
            root: Node::Object(Vec::new()),
            open_string: None,
            padding: 0,
        }
    }
}

impl ArgsAssembler {
    /// Places one leaf. A string piece at the path of the string left open
    /// by the previous piece is appended; anything else sets the leaf.
    pub fn apply(&mut self, arg: &PartialArg) -> Result<(), BadPath> {
        let segments = parse_path(&arg.json_path).ok_or_else(|| BadPath(arg.json_path.clone()))?;
        let continues = arg.will_continue == Some(true);
        if let Some(piece) = &arg.string_value {
            let append = self.open_string.as_deref() == Some(arg.json_path.as_str());
            let leaf = leaf_mut(&mut self.root, &segments, &arg.json_path, &mut self.padding)?;
            match leaf {
                Node::Str(s) if append => s.push_str(piece),
                _ => *leaf = Node::Str(piece.clone()),
            }
            self.open_string = continues.then(|| arg.json_path.clone());
            return Ok(());
        }
        self.open_string = None;
        let value = if let Some(n) = &arg.number_value {
            n.clone()
        } else if let Some(b) = arg.bool_value {
            OwnedValue::Static(StaticNode::Bool(b))
        } else if arg.null_value.is_some() {
            OwnedValue::Static(StaticNode::Null)
        } else {
            return Ok(());
        };
        *leaf_mut(&mut self.root, &segments, &arg.json_path, &mut self.padding)? =
            Node::Scalar(value);
        Ok(())
    }

    /// The complete arguments as JSON text (`{}` when nothing arrived).
    pub fn finish(&self) -> String {
        let mut out = Vec::with_capacity(64);
        write_node(&self.root, &mut out);
        // Built only from `&str` pieces and JSON punctuation.
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `$.a.b[0]['c d']` → `[a, b, 0, "c d"]`; `None` when malformed or empty.
fn parse_path(path: &str) -> Option<Vec<Segment<'_>>> {
    let mut rest = path.strip_prefix('$')?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            out.push(Segment::Key(Cow::Borrowed(&r[..end])));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let quote = r.chars().next()?;
            if quote == '\'' || quote == '"' {
                let (key, after) = quoted_key(&r[1..], quote)?;
                out.push(Segment::Key(key));
                rest = after.strip_prefix(']')?;
            } else {
                let end = r.find(']')?;
                let index: usize = r[..end].parse().ok()?;
                if index > MAX_INDEX {
                    return None;
                }
                out.push(Segment::Index(index));
                rest = &r[end + 1..];
            }
        } else {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Reads a bracket-quoted name up to its closing quote, undoing `\` escapes.
fn quoted_key(s: &str, quote: char) -> Option<(Cow<'_, str>, &str)> {
    let mut owned: Option<String> = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            let key = owned.map_or(Cow::Borrowed(&s[..i]), Cow::Owned);
            return Some((key, &s[i + 1..]));
        }
        if c == '\\' {
            let buf = owned.get_or_insert_with(|| s[..i].to_owned());
            buf.push(chars.next()?.1);
        } else if let Some(buf) = owned.as_mut() {
            buf.push(c);
        }
    }
    None
}

fn leaf_mut<'n>(
    root: &'n mut Node,
    segments: &[Segment<'_>],
    path: &str,
    padding: &mut usize,
) -> Result<&'n mut Node, BadPath> {
    let mut cur = root;
    for seg in segments {
        cur = child_mut(cur, seg, padding).ok_or_else(|| BadPath(path.to_owned()))?;
    }
    Ok(cur)
}

/// The child at `seg`, created (as `null`, typed by the next step) if absent.
/// A node of the wrong kind is replaced: the latest path wins.
fn child_mut<'n>(
    node: &'n mut Node,
    seg: &Segment<'_>,
    padding: &mut usize,
) -> Option<&'n mut Node> {
    match seg {
        Segment::Key(key) => {
            if !matches!(node, Node::Object(_)) {
                *node = Node::Object(Vec::new());
            }
            let Node::Object(entries) = node else {
                return None;
            };
            let pos = match entries.iter().position(|(k, _)| k == key) {
                Some(p) => p,
                None => {
                    entries.push((
                        key.to_string(),
                        Node::Scalar(OwnedValue::Static(StaticNode::Null)),
                    ));
                    entries.len() - 1
                }
            };
            Some(&mut entries[pos].1)
        }
        Segment::Index(i) => {
            if !matches!(node, Node::Array(_)) {
                *node = Node::Array(Vec::new());
            }
            let Node::Array(items) = node else {
                return None;
            };
            *padding += i.saturating_sub(items.len());
            if *padding > MAX_PADDING {
                return None;
            }
            while items.len() <= *i {
                items.push(Node::Scalar(OwnedValue::Static(StaticNode::Null)));
            }
            Some(&mut items[*i])
        }
    }
}

fn write_node(node: &Node, out: &mut Vec<u8>) {
    match node {
        Node::Object(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json::write_str(out, k);
                out.push(b':');
                write_node(v, out);
            }
            out.push(b'}');
        }
        Node::Array(items) => json::write_list(out, items, |out, v| write_node(v, out)),
        Node::Str(s) => json::write_str(out, s),
        Node::Scalar(v) => json::write_value(out, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(path: &str, f: impl FnOnce(&mut PartialArg)) -> PartialArg {
        let mut a = PartialArg {
            json_path: path.into(),
            ..PartialArg::default()
        };
        f(&mut a);
        a
    }

    fn s(path: &str, v: &str, cont: bool) -> PartialArg {
        arg(path, |a| {
            a.string_value = Some(v.into());
            a.will_continue = cont.then_some(true);
        })
    }

    #[test]
    fn parses_paths() {
        use Segment::*;
        assert_eq!(
            parse_path("$.a.b[2]['c.d'][\"e\\\"f\"]").unwrap(),
            vec![
                Key("a".into()),
                Key("b".into()),
                Index(2),
                Key("c.d".into()),
                Key("e\"f".into())
            ]
        );
        for bad in ["", "$", "a.b", "$..a", "$.a[x]", "$.a['b", "$.a[99999999]"] {
            assert!(parse_path(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn joins_string_pieces_and_nests_in_arrival_order() {
        let mut asm = ArgsAssembler::default();
        for a in [
            s("$.recipe.ingredients[0].amount", "16 ", true),
            s("$.recipe.ingredients[0].amount", "oz", true),
            s("$.recipe.ingredients[0].amount", "", false),
            arg("$.recipe.ingredients[0].qty", |a| {
                a.number_value = Some(OwnedValue::from(2u64))
            }),
            s("$.recipe.ingredients[1].name", "Egg \"large\"", false),
            arg("$.recipe.vegan", |a| a.bool_value = Some(false)),
            arg("$.recipe.note", |a| {
                a.null_value = Some(OwnedValue::from("NULL_VALUE"))
            }),
            s("$.title", "Lasagna", false),
        ] {
            asm.apply(&a).unwrap();
        }
        assert_eq!(
            asm.finish(),
            r#"{"recipe":{"ingredients":[{"amount":"16 oz","qty":2},{"name":"Egg \"large\""}],"vegan":false,"note":null},"title":"Lasagna"}"#
        );
    }

    #[test]
    fn a_closed_string_is_replaced_not_appended() {
        let mut asm = ArgsAssembler::default();
        asm.apply(&s("$.a", "x", false)).unwrap();
        asm.apply(&s("$.a", "y", false)).unwrap();
        assert_eq!(asm.finish(), r#"{"a":"y"}"#);
        assert_eq!(ArgsAssembler::default().finish(), "{}");
        assert!(asm.apply(&s("$", "x", false)).is_err());
    }
}
