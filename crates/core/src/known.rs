//! Values that exist only once a run has applied: the id of a VPC not yet created, the ARN of
//! a key a plan would create. One placeholder for every domain, with a typed way to ask "is
//! this a real value yet" instead of checking an id's prefix.

use std::fmt;

/// How a value that is known only after apply renders in plans and outputs.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// A value that is known now, or only after apply (in plan mode, for what does not exist yet).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Known<T> {
    /// The real value.
    Value(T),
    /// Not known until the resource exists.
    #[default]
    AfterApply,
}

impl<T> Known<T> {
    /// The value, if known.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(v) => Some(v),
            Self::AfterApply => None,
        }
    }

    /// The value, if known, by value.
    pub fn into_value(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            Self::AfterApply => None,
        }
    }

    /// True for a real value.
    pub fn is_known(&self) -> bool {
        matches!(self, Self::Value(_))
    }

    /// Maps the value, keeping "after apply".
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Known<U> {
        match self {
            Self::Value(v) => Known::Value(f(v)),
            Self::AfterApply => Known::AfterApply,
        }
    }

    /// A borrowed view.
    pub fn as_ref(&self) -> Known<&T> {
        match self {
            Self::Value(v) => Known::Value(v),
            Self::AfterApply => Known::AfterApply,
        }
    }
}

impl<T> From<Option<T>> for Known<T> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::AfterApply, Self::Value)
    }
}

impl Known<String> {
    /// The value, or [`KNOWN_AFTER_APPLY`], for rendering into a spec or a plan.
    pub fn or_placeholder(&self) -> String {
        self.value()
            .cloned()
            .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned())
    }

    /// Reads back a value rendered by [`Known::or_placeholder`] (a layer output, a spec
    /// field): the placeholder is "after apply", anything else a real value.
    pub fn parse(rendered: Option<&str>) -> Self {
        match rendered {
            Some(v) if v != KNOWN_AFTER_APPLY && !v.is_empty() => Self::Value(v.to_owned()),
            _ => Self::AfterApply,
        }
    }
}

impl<T: fmt::Display> fmt::Display for Known<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(v) => v.fmt(f),
            Self::AfterApply => f.write_str(KNOWN_AFTER_APPLY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_parses_back() {
        let id: Known<String> = Known::Value("vpc-1".into());
        assert_eq!(id.to_string(), "vpc-1");
        assert_eq!(Known::parse(Some(&id.or_placeholder())), id);
        let later: Known<String> = Known::AfterApply;
        assert_eq!(later.to_string(), KNOWN_AFTER_APPLY);
        assert_eq!(Known::parse(Some(&later.or_placeholder())), later);
        assert_eq!(Known::parse(None), later);
        assert!(!Known::<String>::parse(Some("")).is_known());
        assert_eq!(Known::from(Some(3)).map(|v| v * 2).value(), Some(&6));
    }
}
