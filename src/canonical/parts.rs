//! [`Parts`]: a message's content parts. Most messages carry one (a plain
//! string `content`), which is held inline rather than in its own `Vec`.

use std::ops::{Deref, DerefMut};

use super::ContentPart;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parts(Repr);

#[derive(Debug, Clone, PartialEq, Default)]
enum Repr {
    #[default]
    None,
    One(ContentPart),
    Many(Vec<ContentPart>),
}

impl Parts {
    pub fn one(part: ContentPart) -> Self {
        Parts(Repr::One(part))
    }

    pub fn push(&mut self, part: ContentPart) {
        self.0 = match std::mem::take(&mut self.0) {
            Repr::None => Repr::One(part),
            Repr::One(first) => Repr::Many(vec![first, part]),
            Repr::Many(mut parts) => {
                parts.push(part);
                Repr::Many(parts)
            }
        };
    }
}

impl Deref for Parts {
    type Target = [ContentPart];

    fn deref(&self) -> &[ContentPart] {
        match &self.0 {
            Repr::None => &[],
            Repr::One(part) => std::slice::from_ref(part),
            Repr::Many(parts) => parts,
        }
    }
}

impl DerefMut for Parts {
    fn deref_mut(&mut self) -> &mut [ContentPart] {
        match &mut self.0 {
            Repr::None => &mut [],
            Repr::One(part) => std::slice::from_mut(part),
            Repr::Many(parts) => parts,
        }
    }
}

impl From<Vec<ContentPart>> for Parts {
    fn from(mut parts: Vec<ContentPart>) -> Self {
        match parts.len() {
            0 => Parts(Repr::None),
            1 => Parts(Repr::One(parts.remove(0))),
            _ => Parts(Repr::Many(parts)),
        }
    }
}

impl<'a> IntoIterator for &'a Parts {
    type Item = &'a ContentPart;
    type IntoIter = std::slice::Iter<'a, ContentPart>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> ContentPart {
        ContentPart::Text(s.into())
    }

    #[test]
    fn parts_read_as_the_slice_they_were_built_from() {
        for n in 0..4 {
            let parts: Vec<_> = (0..n).map(|i| text(&i.to_string())).collect();
            let mut pushed = Parts::default();
            for p in &parts {
                pushed.push(p.clone());
            }
            assert_eq!(&*Parts::from(parts.clone()), &parts[..]);
            assert_eq!(&*pushed, &parts[..]);
            assert_eq!(pushed, Parts::from(parts));
        }
    }
}
