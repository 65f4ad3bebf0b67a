//! molt-c's words for a config line the toml crate refused. The checks of
//! c-core/src/util/config.c (molt-c's TOML subset parser), in its order, run
//! over the file up to the line toml named, so that a syntax error reads the
//! same from molt-c and molt-rs: "syntax error: expected '=' after key
//! 'port'", "duplicate key 'tls.cert'", "invalid number '0123' (leading
//! zeros are not allowed)". Only faults that are TOML errors are worded
//! here; where molt-c refuses what TOML allows (arrays, inline tables,
//! dotted keys, multi-line strings, dates, its length limits) the toml
//! crate's own words stay (molt-rs reads all of TOML).

/// config.c's CONFIG_KEY_MAX and CONFIG_STR_MAX: the buffers, terminating
/// NUL included.
const KEY_MAX: usize = 64;
const STR_MAX: usize = 4096;
/// config.c's `char clean[128]`: the digits of a number.
const NUMBER_MAX: usize = 128;

/// molt-c's message for line `line` (from 1) of `text`, when molt-c refuses
/// that line for a reason that is also a TOML error; None otherwise.
pub fn describe(text: &str, line: usize) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut doc = Document::new();
    for (i, raw) in text.split('\n').enumerate() {
        let verdict = doc.line(raw.strip_suffix('\r').unwrap_or(raw));
        if i + 1 == line {
            return match verdict {
                Err(Fault::NotToml(what)) => Some(what),
                _ => None,
            };
        }
    }
    None
}

/// Why config.c refuses a line.
enum Fault {
    /// Not TOML either: molt-c's words apply.
    NotToml(String),
    /// TOML allows it, molt-c's subset does not (or is too small for it).
    SubsetOnly,
}

type Checked<T> = Result<T, Fault>;

fn bad<T>(what: impl Into<String>) -> Checked<T> {
    Err(Fault::NotToml(what.into()))
}

/// The tables and keys seen so far (config.c's `seen`), for duplicates.
struct Document {
    /// The current `[table]`, "" at the top; None after a header only TOML
    /// reads (`[a.b]`, `[[x]]`): the keys under it are not tracked.
    table: Option<String>,
    seen: Vec<String>,
}

impl Document {
    fn new() -> Self {
        Document {
            table: Some(String::new()),
            seen: Vec::new(),
        }
    }

    fn line(&mut self, text: &str) -> Checked<()> {
        let mut l = Line { s: text, i: 0 };
        match l.parse() {
            Ok(Parsed::Blank) => Ok(()),
            Ok(Parsed::Table(name)) => {
                self.mark_seen(&name, || format!("table [{name}] defined twice"))?;
                self.table = Some(name);
                Ok(())
            }
            Ok(Parsed::Key(key)) => {
                let full = match self.table.as_deref() {
                    None => return Ok(()),
                    Some("") => key,
                    Some(table) => format!("{table}.{key}"),
                };
                self.mark_seen(&full, || format!("duplicate key '{full}'"))
            }
            Err(f) => {
                if text.trim_start().starts_with('[') {
                    self.table = None;
                }
                Err(f)
            }
        }
    }

    fn mark_seen(&mut self, full: &str, twice: impl FnOnce() -> String) -> Checked<()> {
        if self.seen.iter().any(|s| s == full) {
            return bad(twice());
        }
        self.seen.push(full.to_string());
        Ok(())
    }
}

enum Parsed {
    Blank,
    Table(String),
    Key(String),
}

/// One line (without its line ending) and a position in it.
struct Line<'a> {
    s: &'a str,
    i: usize,
}

fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn is_control(c: char) -> bool {
    (c < ' ' && c != '\t') || c == '\x7f'
}

fn digit_ok(c: char, base: u32) -> bool {
    c.is_digit(base)
}

impl Line<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn at(&self, c: char) -> bool {
        self.peek() == Some(c)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.i += 1;
        }
    }

    fn parse(&mut self) -> Checked<Parsed> {
        if self.s.chars().any(is_control) {
            return bad("control character in line");
        }
        self.skip_ws();
        if self.peek().is_none() || self.at('#') {
            return Ok(Parsed::Blank);
        }
        if self.at('[') {
            self.i += 1;
            if self.at('[') {
                return Err(Fault::SubsetOnly); // arrays of tables
            }
            self.skip_ws();
            let name = self.key()?;
            if !self.at(']') {
                return bad("syntax error: expected ']' after table name");
            }
            self.i += 1;
            self.expect_eol("the table header")?;
            return Ok(Parsed::Table(name));
        }
        let key = self.key()?;
        if !self.at('=') {
            return bad(format!("syntax error: expected '=' after key '{key}'"));
        }
        self.i += 1;
        self.skip_ws();
        self.value()?;
        self.expect_eol("the value")?;
        Ok(Parsed::Key(key))
    }

    /// Only whitespace or a comment may follow.
    fn expect_eol(&mut self, after: &str) -> Checked<()> {
        self.skip_ws();
        match self.peek() {
            None | Some('#') => Ok(()),
            Some(_) => bad(format!("syntax error: unexpected text after {after}")),
        }
    }

    fn key(&mut self) -> Checked<String> {
        let key = if matches!(self.peek(), Some('"' | '\'')) {
            self.string(KEY_MAX)?
        } else {
            let start = self.i;
            while self.peek().is_some_and(is_bare) {
                self.i += 1;
            }
            let key = &self.s[start..self.i];
            if key.len() + 1 > KEY_MAX {
                return Err(Fault::SubsetOnly); // key too long
            }
            if key.is_empty() {
                return match self.peek() {
                    Some(c) => bad(format!("syntax error: expected a key, found '{c}'")),
                    None => bad("syntax error: expected a key"),
                };
            }
            key.to_string()
        };
        self.skip_ws();
        if self.at('.') {
            return Err(Fault::SubsetOnly); // dotted keys
        }
        Ok(key)
    }

    /// A "basic" or 'literal' string starting at the quote; `cap` counts
    /// config.c's terminating NUL.
    fn string(&mut self, cap: usize) -> Checked<String> {
        let quote = self.bump().unwrap_or('"');
        let rest = &self.s[self.i..];
        if rest.starts_with(quote) && rest[1..].starts_with(quote) {
            return Err(Fault::SubsetOnly); // multi-line strings
        }
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return bad("syntax error: unterminated string");
            };
            if c == quote {
                return Ok(out);
            }
            // (control characters: the whole line was checked first)
            if c == '\\' && quote == '"' {
                let Some(e) = self.bump() else {
                    return bad("syntax error: unterminated string");
                };
                let digits = match e {
                    'b' | 't' | 'n' | 'f' | 'r' | '"' | '\\' => 0,
                    'u' => 4,
                    'U' => 8,
                    _ => return bad(format!("invalid escape '\\{e}' in string")),
                };
                if digits == 0 {
                    out.push(e); // the escaped character itself: only lengths and equality matter here
                } else {
                    out.push(self.unicode_escape(digits)?);
                }
            } else {
                out.push(c);
            }
            if out.len() + 1 > cap {
                return Err(Fault::SubsetOnly); // string too long
            }
        }
    }

    fn unicode_escape(&mut self, digits: usize) -> Checked<char> {
        let mut cp: u32 = 0;
        for _ in 0..digits {
            match self.bump().and_then(|h| h.to_digit(16)) {
                Some(v) => cp = cp.wrapping_mul(16).wrapping_add(v),
                None => return bad("invalid unicode escape"),
            }
        }
        if cp == 0 {
            return Err(Fault::SubsetOnly); // NUL in a string
        }
        char::from_u32(cp).map_or_else(|| bad("invalid unicode escape"), Ok)
    }

    fn value(&mut self) -> Checked<()> {
        match self.peek() {
            None | Some('#') => bad("syntax error: missing value"),
            Some('"' | '\'') => self.string(STR_MAX).map(drop),
            Some('[' | '{') => Err(Fault::SubsetOnly), // arrays, inline tables
            Some(_) => {
                let start = self.i;
                while !matches!(self.peek(), None | Some(' ' | '\t' | '#')) {
                    self.bump();
                }
                scalar(&self.s[start..self.i])
            }
        }
    }
}

/// A number or boolean token, as config.c's parse_scalar checks it.
fn scalar(tok: &str) -> Checked<()> {
    if tok == "true" || tok == "false" {
        return Ok(());
    }
    let b = tok.as_bytes();
    if tok.contains(':') || (b.len() >= 5 && b[4] == b'-' && b[0].is_ascii_digit()) {
        return Err(Fault::SubsetOnly); // dates and times
    }
    let invalid = || bad(format!("invalid number '{tok}'"));
    let unsigned = tok.strip_prefix(['+', '-']).unwrap_or(tok);
    let signed = unsigned.len() != tok.len();
    let neg = tok.starts_with('-');
    if unsigned == "inf" || unsigned == "nan" {
        return Ok(());
    }
    let (base, body) = match unsigned.as_bytes() {
        [b'0', r @ (b'x' | b'o' | b'b'), _, ..] => {
            if signed {
                return invalid();
            }
            let base = match r {
                b'x' => 16,
                b'o' => 8,
                _ => 2,
            };
            (base, &unsigned[2..])
        }
        _ => (10, unsigned),
    };
    if body.is_empty() {
        return bad(format!("invalid value '{tok}'"));
    }
    let bb = body.as_bytes();
    if base == 10 && bb.len() > 1 && bb[0] == b'0' && bb[1].is_ascii_digit() {
        return bad(format!(
            "invalid number '{tok}' (leading zeros are not allowed)"
        ));
    }
    let chars: Vec<char> = body.chars().collect();
    let mut clean = String::new();
    let mut is_float = false;
    let mut prev = '\0';
    for (k, &c) in chars.iter().enumerate() {
        let next = chars.get(k + 1).copied();
        if c == '_' {
            if !digit_ok(prev, base) || !next.is_some_and(|n| digit_ok(n, base)) {
                return invalid();
            }
        } else if digit_ok(c, base) {
            clean.push(c);
        } else if base == 10
            && (matches!(c, '.' | 'e' | 'E')
                || (matches!(c, '+' | '-') && matches!(prev, 'e' | 'E')))
        {
            if c == '.' && (!digit_ok(prev, 10) || !next.is_some_and(|n| digit_ok(n, 10))) {
                return invalid();
            }
            is_float = true;
            clean.push(c);
        } else if b[0].is_ascii_alphabetic() {
            return bad(format!("invalid value '{tok}' (strings must be quoted)"));
        } else {
            return invalid();
        }
        if clean.len() + 2 > NUMBER_MAX {
            return Err(Fault::SubsetOnly); // number too long
        }
        prev = c;
    }
    if is_float {
        // strtod: the whole text, finite (ERANGE is refused)
        return match clean.parse::<f64>() {
            Ok(d) if d.is_finite() => Ok(()),
            _ => invalid(),
        };
    }
    match u64::from_str_radix(&clean, base) {
        Ok(u) if u <= i64::MAX as u64 + u64::from(neg) => Ok(()),
        Ok(_) => bad(format!("integer '{tok}' out of range")),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => {
            bad(format!("integer '{tok}' out of range"))
        }
        Err(_) => invalid(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn words_the_line_as_molt_c_does() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "# c\nport 11211\n",
                2,
                "syntax error: expected '=' after key 'port'",
            ),
            ("port = \n", 1, "syntax error: missing value"),
            ("port = # none\n", 1, "syntax error: missing value"),
            ("listen = \"abc\n", 1, "syntax error: unterminated string"),
            (
                "port = 1 2\n",
                1,
                "syntax error: unexpected text after the value",
            ),
            ("[tls\n", 1, "syntax error: expected ']' after table name"),
            (
                "[tls] x\n",
                1,
                "syntax error: unexpected text after the table header",
            ),
            ("= 1\n", 1, "syntax error: expected a key, found '='"),
            (
                "storage = slab\n",
                1,
                "invalid value 'slab' (strings must be quoted)",
            ),
            ("listen = \"a\\qb\"\n", 1, "invalid escape '\\q' in string"),
            ("listen = \"\\uD800\"\n", 1, "invalid unicode escape"),
            ("port = 1\nport = 2\n", 2, "duplicate key 'port'"),
            (
                "[tls]\ncert = 'a'\n\n[tls]\n",
                4,
                "table [tls] defined twice",
            ),
            (
                "[tls]\ncert = 'a'\ncert = \"b\"\n",
                3,
                "duplicate key 'tls.cert'",
            ),
            (
                "port = 0123\n",
                1,
                "invalid number '0123' (leading zeros are not allowed)",
            ),
            ("port = 1__0\n", 1, "invalid number '1__0'"),
            ("port = -0x10\n", 1, "invalid number '-0x10'"),
            ("port = 1.\n", 1, "invalid number '1.'"),
            ("slab_growth_factor = 1e999\n", 1, "invalid number '1e999'"),
            (
                "port = 9223372036854775808\n",
                1,
                "integer '9223372036854775808' out of range",
            ),
            (
                "port = 99999999999999999999\n",
                1,
                "integer '99999999999999999999' out of range",
            ),
            ("port = 1\r\nport\t= 2\r\n", 2, "duplicate key 'port'"),
            (
                "\u{feff}port 1\n",
                1,
                "syntax error: expected '=' after key 'port'",
            ),
            ("a = \"x\u{1}\"\n", 1, "control character in line"),
        ];
        for (text, line, want) in cases {
            assert_eq!(describe(text, *line).as_deref(), Some(*want), "{text:?}");
        }
    }

    #[test]
    fn what_toml_allows_keeps_the_toml_crate_words() {
        for (text, line) in [
            ("port = [1]\n", 1),
            ("tls = { cert = \"a\" }\n", 1),
            ("tls.cert = \"a\"\n", 1),
            ("[a.b]\n", 1),
            ("[[x]]\n", 1),
            ("listen = \"\"\"a\"\"\"\n", 1),
            ("when = 1979-05-27\n", 1),
            ("port = 11211\n", 1),
            ("port = -9223372036854775808\n", 1),
        ] {
            assert_eq!(describe(text, line), None, "{text:?}");
        }
    }

    #[test]
    fn keys_under_a_header_only_toml_reads_are_not_tracked() {
        // molt-c stops at [tls.x]; under TOML "cert" there is tls.x.cert.
        let text = "[tls]\ncert = 'a'\n[tls.x]\ncert = 'b'\n";
        assert_eq!(describe(text, 4), None);
    }
}
