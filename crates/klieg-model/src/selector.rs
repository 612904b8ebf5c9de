//! Kubernetes label selectors (`app=web,tier!=db`, `env in (a,b)`, `!canary`) parsed and matched
//! locally, so filtering a table never asks the server.

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("expected a label key at position {0}")]
    MissingKey(usize),
    #[error("expected a value after the operator at position {0}")]
    MissingValue(usize),
    #[error("expected '(' after 'in' or 'notin' at position {0}")]
    MissingOpenParen(usize),
    #[error("unclosed '(' at position {0}")]
    UnclosedParen(usize),
    #[error("unexpected text at position {0}")]
    Unexpected(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser { text: text.as_bytes(), pos: 0 };
        let mut requirements = Vec::new();
        parser.skip_spaces();
        if parser.at_end() {
            return Ok(Self { requirements });
        }
        loop {
            requirements.push(parser.requirement()?);
            parser.skip_spaces();
            if parser.at_end() {
                break;
            }
            if !parser.eat(b',') {
                return Err(SelectorError::Unexpected(parser.pos));
            }
        }
        Ok(Self { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &super::row::Labels) -> bool {
        self.requirements.iter().all(|requirement| {
            let value = |key: &str| labels.get(key).map(|v| &**v);
            match requirement {
                Requirement::Equals(k, v) => value(k) == Some(v.as_str()),
                Requirement::NotEquals(k, v) => value(k) != Some(v.as_str()),
                Requirement::In(k, vs) => value(k).is_some_and(|x| vs.iter().any(|v| v == x)),
                Requirement::NotIn(k, vs) => value(k).is_none_or(|x| vs.iter().all(|v| v != x)),
                Requirement::Exists(k) => value(k).is_some(),
                Requirement::DoesNotExist(k) => value(k).is_none(),
            }
        })
    }
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn skip_spaces(&mut self) {
        while self.text.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.text.get(self.pos) == Some(&byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let followed_by_space_or_paren = self.text.get(end).is_none_or(|c| c.is_ascii_whitespace() || *c == b'(');
        if self.text.get(self.pos..end) == Some(word.as_bytes()) && followed_by_space_or_paren {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn token(&mut self) -> String {
        let start = self.pos;
        while self
            .text
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/'))
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.pos]).into_owned()
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        self.skip_spaces();
        if self.eat(b'!') {
            self.skip_spaces();
            let key = self.token();
            if key.is_empty() {
                return Err(SelectorError::MissingKey(self.pos));
            }
            return Ok(Requirement::DoesNotExist(key));
        }
        let key = self.token();
        if key.is_empty() {
            return Err(SelectorError::MissingKey(self.pos));
        }
        self.skip_spaces();
        if self.eat(b'!') {
            if !self.eat(b'=') {
                return Err(SelectorError::Unexpected(self.pos));
            }
            return Ok(Requirement::NotEquals(key, self.value()?));
        }
        if self.eat(b'=') {
            self.eat(b'=');
            return Ok(Requirement::Equals(key, self.value()?));
        }
        if self.eat_word("notin") {
            return Ok(Requirement::NotIn(key, self.value_set()?));
        }
        if self.eat_word("in") {
            return Ok(Requirement::In(key, self.value_set()?));
        }
        Ok(Requirement::Exists(key))
    }

    fn value(&mut self) -> Result<String, SelectorError> {
        self.skip_spaces();
        let value = self.token();
        // An empty value is allowed by Kubernetes (`key=`), but only when nothing odd follows.
        if value.is_empty() && !(self.at_end() || self.text.get(self.pos) == Some(&b',')) {
            return Err(SelectorError::MissingValue(self.pos));
        }
        Ok(value)
    }

    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        self.skip_spaces();
        let open = self.pos;
        if !self.eat(b'(') {
            return Err(SelectorError::MissingOpenParen(self.pos));
        }
        let mut values = Vec::new();
        loop {
            self.skip_spaces();
            let value = self.token();
            if !value.is_empty() {
                values.push(value);
            }
            self.skip_spaces();
            if self.eat(b')') {
                return Ok(values);
            }
            if !self.eat(b',') {
                return Err(SelectorError::UnclosedParen(open));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn labels(pairs: &[(&str, &str)]) -> crate::row::Labels {
        pairs.iter().map(|(k, v)| (Arc::from(*k), Arc::from(*v))).collect()
    }

    #[test]
    fn equality_and_inequality() {
        let selector = LabelSelector::parse("app=web,tier!=db").expect("valid");
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(selector.matches(&labels(&[("app", "web")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!selector.matches(&labels(&[("app", "api")])));
    }

    #[test]
    fn set_based_and_existence() {
        let selector = LabelSelector::parse("env in (prod, staging), !canary, team").expect("valid");
        assert!(selector.matches(&labels(&[("env", "prod"), ("team", "a")])));
        assert!(!selector.matches(&labels(&[("env", "dev"), ("team", "a")])));
        assert!(!selector.matches(&labels(&[("env", "prod"), ("team", "a"), ("canary", "1")])));
        assert!(!selector.matches(&labels(&[("env", "prod")])));
        let notin = LabelSelector::parse("env notin (prod)").expect("valid");
        assert!(notin.matches(&labels(&[])));
        assert!(!notin.matches(&labels(&[("env", "prod")])));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert_eq!(LabelSelector::parse("app=web,"), Err(SelectorError::MissingKey(8)));
        assert!(matches!(LabelSelector::parse("env in (a,b"), Err(SelectorError::UnclosedParen(_))));
        assert!(matches!(LabelSelector::parse("env in a"), Err(SelectorError::MissingOpenParen(_))));
        assert!(LabelSelector::parse("  ").expect("empty is valid").is_empty());
    }
}
