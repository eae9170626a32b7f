//! Output path templates (`{artist}/{album}/{track:02} {title}.{ext}`): parsed and
//! checked once, then filled per catalogue row. A filled path must stay inside the
//! output folder and be portable: no field may bring a path separator, a control
//! character, a character Windows or SMB shares refuse, or a component that is empty,
//! `.`/`..`, hidden (leading dot) or ends in a dot or space.

use std::path::PathBuf;

/// The template when `--template` is not given.
pub const DEFAULT_TEMPLATE: &str = "{album_artist}/{album}/{track:02} {title}.{ext}";

/// The fields a template may name.
pub const FIELDS: [&str; 9] = [
    "artist",
    "album_artist",
    "album",
    "album_id",
    "track",
    "title",
    "isrc",
    "stem",
    "ext",
];

/// Characters refused in a path component besides control characters: the separators
/// and what Windows, SMB and most object stores' tools choke on.
pub const UNSAFE_CHARS: &str = "/\\:*?\"<>|";

/// What goes in the place of an unsafe character with `--sanitize`.
pub const REPLACEMENT: char = '_';

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field { name: String, width: usize },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

/// A template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("output template `{template}`, column {column}: {message}")]
pub struct TemplateError {
    pub template: String,
    /// 1-based character position of the problem.
    pub column: usize,
    pub message: String,
}

/// A filled path that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("field `{field}` is empty, so the output path `{path}` has an empty name")]
    Empty { field: String, path: String },
    #[error(
        "field `{field}` = {value:?} has the unsafe character {found:?} (refused: {UNSAFE_CHARS} and control characters; rename it or pass --sanitize to replace them by `{REPLACEMENT}`)"
    )]
    UnsafeChar {
        field: String,
        value: String,
        found: char,
    },
    #[error(
        "output path `{path}` has the component {component:?}, which is empty, `.`, `..`, hidden (leading dot) or ends in a dot or space"
    )]
    BadComponent { path: String, component: String },
}

/// The values of one row, by field name.
pub trait Values {
    fn get(&self, field: &str) -> Option<String>;
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let fail = |column: usize, message: String| TemplateError {
            template: source.to_string(),
            column,
            message,
        };
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(fail(i + 1, "`{` is never closed".into()));
                    }
                    let (name, width) = match inner.split_once(':') {
                        Some((n, w)) => {
                            let width = w
                                .strip_prefix('0')
                                .and_then(|d| d.parse::<usize>().ok())
                                .filter(|w| (1..=9).contains(w))
                                .ok_or_else(|| {
                                    fail(
                                        i + 1,
                                        format!("`{{{inner}}}`: a width is written `:0N` with N in 1..=9, e.g. `{{track:02}}`"),
                                    )
                                })?;
                            (n.to_string(), width)
                        }
                        None => (inner.clone(), 0),
                    };
                    if !FIELDS.contains(&name.as_str()) {
                        return Err(fail(
                            i + 1,
                            format!("unknown field `{name}`; fields: {}", FIELDS.join(", ")),
                        ));
                    }
                    if width > 0 && name != "track" {
                        return Err(fail(
                            i + 1,
                            format!("only `track` takes a width, not `{name}`"),
                        ));
                    }
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Field { name, width });
                }
                '}' => return Err(fail(i + 1, "`}` without `{`".into())),
                '\\' => return Err(fail(i + 1, "use `/` between folders, not `\\`".into())),
                c if c.is_control() || (UNSAFE_CHARS.contains(c) && c != '/') => {
                    return Err(fail(i + 1, format!("unsafe character {c:?}")));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        if source.starts_with('/') {
            return Err(fail(
                1,
                "the template is relative to -o DIR; drop the leading `/`".into(),
            ));
        }
        for (k, component) in source.split('/').enumerate() {
            if component.is_empty() || component == "." || component == ".." {
                let column = source
                    .split('/')
                    .take(k)
                    .map(|c| c.chars().count() + 1)
                    .sum::<usize>()
                    + 1;
                return Err(fail(
                    column,
                    format!("the folder name {component:?} is not allowed"),
                ));
            }
        }
        if !pieces
            .iter()
            .any(|p| matches!(p, Piece::Field { name, .. } if name == "ext"))
            && !source.contains('.')
        {
            return Err(fail(
                source.chars().count(),
                "the file name needs an extension: end the template with `.{ext}`".into(),
            ));
        }
        Ok(Self {
            source: source.to_string(),
            pieces,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The path of one row, relative to the output folder. With `sanitize`, unsafe
    /// characters in field values become [`REPLACEMENT`] instead of an error.
    pub fn fill(&self, values: &dyn Values, sanitize: bool) -> Result<PathBuf, PathError> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { name, width } => {
                    let value = values.get(name).unwrap_or_default();
                    if value.trim().is_empty() {
                        return Err(PathError::Empty {
                            field: name.clone(),
                            path: format!("{out}{{{name}}}"),
                        });
                    }
                    let value = if *width > 0 {
                        format!("{value:0>width$}", width = *width)
                    } else {
                        value
                    };
                    for c in value.chars() {
                        if c.is_control() || UNSAFE_CHARS.contains(c) {
                            if !sanitize {
                                return Err(PathError::UnsafeChar {
                                    field: name.clone(),
                                    value: value.clone(),
                                    found: c,
                                });
                            }
                            out.push(REPLACEMENT);
                        } else {
                            out.push(c);
                        }
                    }
                }
            }
        }
        for component in out.split('/') {
            let bad = component.is_empty()
                || component.starts_with('.')
                || component.ends_with('.')
                || component.ends_with(' ')
                || component.starts_with(' ');
            if bad {
                return Err(PathError::BadComponent {
                    path: out.clone(),
                    component: component.to_string(),
                });
            }
        }
        Ok(PathBuf::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);
    impl Values for Map {
        fn get(&self, field: &str) -> Option<String> {
            self.0.get(field).map(|s| s.to_string())
        }
    }

    fn row(pairs: &[(&'static str, &'static str)]) -> Map {
        Map(pairs.iter().copied().collect())
    }

    #[test]
    fn fills_fields_with_padding() {
        let t = Template::parse("{artist}/{album}/{track:02} {title}.{ext}").unwrap();
        let r = row(&[
            ("artist", "A"),
            ("album", "B"),
            ("track", "3"),
            ("title", "Song"),
            ("ext", "wav"),
        ]);
        assert_eq!(t.fill(&r, false).unwrap(), PathBuf::from("A/B/03 Song.wav"));
    }

    #[test]
    fn bad_templates_name_the_column() {
        let e = Template::parse("{artist}/{albm}.{ext}").unwrap_err();
        assert_eq!(e.column, 10);
        assert!(e.message.contains("unknown field `albm`"), "{e}");
        assert!(Template::parse("../{title}.{ext}").is_err());
        assert!(Template::parse("/abs/{title}.{ext}").is_err());
        assert!(Template::parse("{title:2}.{ext}").is_err());
        assert!(Template::parse("{title}").is_err());
        assert!(Template::parse("a//{title}.{ext}").is_err());
    }

    #[test]
    fn unsafe_values_are_refused_or_replaced() {
        let t = Template::parse("{artist}/{title}.{ext}").unwrap();
        let r = row(&[("artist", "AC/DC"), ("title", "What?"), ("ext", "wav")]);
        let e = t.fill(&r, false).unwrap_err();
        assert!(matches!(e, PathError::UnsafeChar { found: '/', .. }), "{e}");
        assert_eq!(t.fill(&r, true).unwrap(), PathBuf::from("AC_DC/What_.wav"));
        let dots = row(&[("artist", ".."), ("title", "x"), ("ext", "wav")]);
        assert!(matches!(
            t.fill(&dots, true),
            Err(PathError::BadComponent { .. })
        ));
        let empty = row(&[("artist", ""), ("title", "x"), ("ext", "wav")]);
        assert!(matches!(t.fill(&empty, true), Err(PathError::Empty { .. })));
    }
}
