//! The JSON value the tool policy works on, borrowed from the argument text
//! where no escape forced a copy, and the JSON pointers its rules name.

use std::borrow::Cow;

/// A parsed JSON value. Objects keep their members in document order (the
/// strict parser has already refused duplicates); numbers are IEEE doubles,
/// as RFC 8785 (and I-JSON) read them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(f64),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The member `key` of an object; `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The JSON Schema type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Detaches the value from the text it was parsed from (schemas outlive it).
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(n),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }

    /// JSON equality as JSON Schema defines it: member order does not count,
    /// `1` equals `1.0`.
    pub fn json_eq(&self, other: &Value<'_>) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.json_eq(y))
            }
            (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| other.get(k).is_some_and(|w| v.json_eq(w)))
            }
            _ => false,
        }
    }
}

/// One step of a concrete location inside a value, for messages.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'v> {
    Key(&'v str),
    Index(usize),
}

/// Longest pointer a message carries: keys are chosen by the model, and a
/// refusal must not echo a long value back.
const POINTER_MAX: usize = 120;

/// Renders a concrete location as an RFC 6901 pointer, cut at `POINTER_MAX`.
pub fn render_pointer(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(k) => {
                for c in k.chars() {
                    match c {
                        '~' => out.push_str("~0"),
                        '/' => out.push_str("~1"),
                        c if c.is_control() => out.push('?'),
                        c => out.push(c),
                    }
                }
            }
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
        if out.len() > POINTER_MAX {
            let mut cut = POINTER_MAX;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push('…');
            break;
        }
    }
    if out.is_empty() {
        out.push_str("(root)");
    }
    out
}

/// One step of a configured pointer: a member name (or array index), or
/// `*`, every item of an array.
#[derive(Debug, Clone, PartialEq)]
enum PointerStep {
    Key(String),
    EachItem,
}

/// What `Pointer::for_each` calls with each value reached and its location.
pub type Visit<'f, 'v, E> = dyn FnMut(&'v Value<'v>, &[Seg<'v>]) -> Result<(), E> + 'f;

/// A configured JSON pointer (RFC 6901), where a `*` step stands for each
/// item of an array. A member literally named `*` cannot be addressed.
#[derive(Debug, Clone, PartialEq)]
pub struct Pointer {
    steps: Vec<PointerStep>,
}

impl Pointer {
    pub fn parse(text: &str) -> Result<Pointer, String> {
        if text.is_empty() {
            return Ok(Pointer { steps: Vec::new() });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("pointer `{text}` must start with `/`"));
        };
        let steps = rest
            .split('/')
            .map(|raw| match raw {
                "*" => Ok(PointerStep::EachItem),
                _ => unescape_token(raw).map(PointerStep::Key),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| format!("pointer `{text}`: {e}"))?;
        Ok(Pointer { steps })
    }

    /// Calls `visit` with every value the pointer reaches in `root` and its
    /// concrete location; absent members reach nothing (the schema decides
    /// whether they are required). The first error stops the walk.
    pub fn for_each<'v, E>(
        &self,
        root: &'v Value<'v>,
        visit: &mut Visit<'_, 'v, E>,
    ) -> Result<(), E> {
        let mut path = Vec::with_capacity(self.steps.len());
        walk(&self.steps, root, &mut path, visit)
    }
}

fn walk<'v, E>(
    steps: &[PointerStep],
    at: &'v Value<'v>,
    path: &mut Vec<Seg<'v>>,
    visit: &mut Visit<'_, 'v, E>,
) -> Result<(), E> {
    let Some((step, rest)) = steps.split_first() else {
        return visit(at, path);
    };
    match (step, at) {
        (PointerStep::EachItem, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(rest, item, path, visit)?;
                path.pop();
            }
            Ok(())
        }
        (PointerStep::Key(key), Value::Object(members)) => {
            if let Some((k, v)) = members.iter().find(|(k, _)| k == key) {
                path.push(Seg::Key(k));
                walk(rest, v, path, visit)?;
                path.pop();
            }
            Ok(())
        }
        (PointerStep::Key(key), Value::Array(items)) => {
            let found = key
                .parse::<usize>()
                .ok()
                .and_then(|i| Some((i, items.get(i)?)));
            if let Some((i, item)) = found {
                path.push(Seg::Index(i));
                walk(rest, item, path, visit)?;
                path.pop();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn unescape_token(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return Err("`~` must be followed by 0 or 1".to_string()),
        }
    }
    Ok(out)
}
