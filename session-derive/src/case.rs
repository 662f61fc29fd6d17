//! `rename_all` rules: how a snake_case field name becomes a session key.

use std::fmt::Write as _;

/// A case convention for keys.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

/// Every rule with its spelling, in the order error messages list them.
pub(crate) const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
];

impl RenameRule {
    pub(crate) fn from_str(rule: &str) -> Option<Self> {
        RULES
            .iter()
            .find(|(name, _)| *name == rule)
            .map(|&(_, rule)| rule)
    }

    /// Applies the rule to a field name written in snake_case.
    pub(crate) fn apply(self, field: &str) -> String {
        match self {
            Self::Lower | Self::Snake => field.to_owned(),
            Self::Upper | Self::ScreamingSnake => field.to_ascii_uppercase(),
            Self::Kebab => field.replace('_', "-"),
            Self::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
            Self::Pascal | Self::Camel => {
                let mut out = String::with_capacity(field.len());
                for (index, word) in field.split('_').filter(|w| !w.is_empty()).enumerate() {
                    let mut chars = word.chars();
                    if let Some(first) = chars.next() {
                        if index == 0 && self == Self::Camel {
                            out.push(first);
                        } else {
                            out.extend(first.to_uppercase());
                        }
                        let _ = write!(out, "{}", chars.as_str());
                    }
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let cases = [
            (RenameRule::Camel, "color_theme", "colorTheme"),
            (RenameRule::Pascal, "color_theme", "ColorTheme"),
            (RenameRule::Kebab, "color_theme", "color-theme"),
            (RenameRule::ScreamingSnake, "color_theme", "COLOR_THEME"),
            (RenameRule::ScreamingKebab, "color_theme", "COLOR-THEME"),
            (RenameRule::Upper, "a_b", "A_B"),
            (RenameRule::Lower, "a_b", "a_b"),
            (RenameRule::Camel, "id", "id"),
        ];
        for (rule, field, key) in cases {
            assert_eq!(rule.apply(field), key);
        }
        assert_eq!(RenameRule::from_str("camelCase"), Some(RenameRule::Camel));
        assert_eq!(RenameRule::from_str("camelcase"), None);
    }
}
