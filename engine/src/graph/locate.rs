//! Positions in graph source text. serde does not report where a value came from, so after
//! a successful parse we find each node, param and link in a light token stream (comments
//! and strings understood) to give problems an exact `line:col`.

/// A position found in the source: byte offset and 1-based line/column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub offset: usize,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Token positions of one source text.
pub struct SourceMap<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
    /// Byte offsets of UTF-8 continuation bytes (empty for ASCII text): a column in
    /// characters is the byte distance minus those between, found by binary search, so
    /// locating stays cheap on a long line.
    continuation_bytes: Vec<usize>,
    tokens: Vec<(usize, Tok)>,
}

impl<'a> SourceMap<'a> {
    pub fn new(source: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        let continuation_bytes = source
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b & 0xC0 == 0x80)
            .map(|(i, _)| i)
            .collect();
        Self {
            source,
            line_starts,
            continuation_bytes,
            tokens: lex(source),
        }
    }

    /// Index of the first token at or after byte `from`: searches start there, so finding
    /// each of many items in turn does not rescan the file from its start.
    fn first_token_at(&self, from: usize) -> usize {
        self.tokens.partition_point(|(at, _)| *at < from)
    }

    /// Line and column (1-based, columns in characters) of a byte offset.
    pub fn locate(&self, offset: usize) -> Located {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let end = offset.min(self.source.len());
        let between = |at: usize| self.continuation_bytes.partition_point(|&c| c < at);
        let col = end.saturating_sub(start) - (between(end) - between(start)) + 1;
        Located { offset, line, col }
    }

    /// Offset of the first `key:` (an identifier followed by a colon) at or after `from`.
    pub fn find_key(&self, key: &str, from: usize) -> Option<usize> {
        self.tokens[self.first_token_at(from)..]
            .windows(2)
            .find_map(|w| match (&w[0], &w[1]) {
                ((at, Tok::Ident(name)), (_, Tok::Punct(':'))) if *at >= from && name == key => {
                    Some(*at)
                }
                _ => None,
            })
    }

    /// The first string literal with exactly this content at or after `from`.
    pub fn find_string(&self, content: &str, from: usize) -> Option<Located> {
        self.tokens[self.first_token_at(from)..]
            .iter()
            .find_map(|(at, tok)| match tok {
                Tok::Str(s) if *at >= from && s == content => Some(self.locate(*at)),
                _ => None,
            })
    }

    /// The first `id: "<id>"` at or after `from`, located at the `id` key.
    pub fn find_id(&self, id: &str, from: usize) -> Option<Located> {
        self.tokens[self.first_token_at(from)..]
            .windows(3)
            .find_map(|w| match (&w[0], &w[1], &w[2]) {
                ((at, Tok::Ident(k)), (_, Tok::Punct(':')), (_, Tok::Str(v)))
                    if *at >= from && k == "id" && v == id =>
                {
                    Some(self.locate(*at))
                }
                _ => None,
            })
    }
}

fn lex(src: &str) -> Vec<(usize, Tok)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let mut depth = 0usize;
            while i < bytes.len() {
                if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'"' {
            let start = i;
            let mut s = String::new();
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                // Push whole UTF-8 characters.
                let ch_len = utf8_len(bytes[i]);
                s.push_str(src.get(i..i + ch_len).unwrap_or(""));
                i += ch_len;
            }
            i += 1;
            out.push((start, Tok::Str(s)));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((start, Tok::Ident(src[start..i].to_string())));
        } else {
            if !c.is_ascii_whitespace() {
                out.push((i, Tok::Punct(c as char)));
            }
            i += utf8_len(c);
        }
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = "// é ü\n(id: \"x\") // ß\n  \"€\" -> y";
        let map = SourceMap::new(src);
        for (offset, _) in src.char_indices() {
            let start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
            let want = src[start..offset].chars().count() + 1;
            assert_eq!(map.locate(offset).col, want, "offset {offset}");
        }
    }

    #[test]
    fn finds_ids_params_and_links_ignoring_comments() {
        let src = "// id: \"eq\" in a comment\n(\n nodes: [\n  (id: \"eq\", kind: \"eq\", params: {\"gain_db\": 1}),\n ],\n links: [\"a -> eq\"],\n)";
        let map = SourceMap::new(src);
        let eq = map.find_id("eq", 0).expect("eq");
        assert_eq!((eq.line, eq.col), (4, 4));
        let p = map.find_string("gain_db", eq.offset).expect("param");
        assert_eq!((p.line, p.col), (4, 35));
        let links = map.find_key("links", 0).expect("links");
        let l = map.find_string("a -> eq", links).expect("link");
        assert_eq!((l.line, l.col), (6, 10));
    }
}
