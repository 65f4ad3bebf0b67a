//! `--config FILE`: the TOML file read with the toml crate, handed to the
//! settings one `[table]` header and one `key = value` at a time (as
//! c-core/src/util/config.c hands them to options.c), so a key is checked
//! exactly as its flag is. Errors read "config <file>:<line>: <what>", a
//! syntax error in molt-c's words (config_syntax.rs).

use crate::config_syntax;

/// molt-c reads at most this much (config.c CONFIG_FILE_MAX).
const FILE_MAX: u64 = 1024 * 1024;

/// What each entry goes to: `(table, Some(key), value)` for a key (table
/// "" at the top), `(table, None, _)` for a `[table]` header.
pub type Entry<'a> = dyn FnMut(&str, Option<&str>, &toml::Value) -> Result<(), String> + 'a;

/// Read `path` and hand every entry to `entry`, in file order.
pub fn load(path: &str, entry: &mut Entry<'_>) -> Result<(), String> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| format!("config {path}: cannot open: {}", os(&e)))?;
    let mut bytes = Vec::new();
    file.take(FILE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("config {path}: cannot read: {}", os(&e)))?;
    if bytes.len() as u64 > FILE_MAX {
        return Err(format!(
            "config {path}: file too large (over {FILE_MAX} bytes)"
        ));
    }
    if bytes.contains(&0) {
        return Err(format!(
            "config {path}: not a text file (contains NUL bytes)"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("config {path}: not UTF-8 text"))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        // molt-c's words where molt-c refuses the line too; else toml's
        let what = config_syntax::describe(&text, line).unwrap_or_else(|| {
            let msg = e.message().lines().next().unwrap_or("");
            format!("syntax error: {msg}")
        });
        format!("config {path}:{line}: {what}")
    })?;
    let at = |table: &str, key: Option<&str>| line_of(&text, table, key);
    let fail = |table: &str, key: Option<&str>, msg: String| {
        format!("config {path}:{}: {msg}", at(table, key))
    };
    // keys of the top level first, then each table's, in file order
    let mut entries: Vec<(usize, String, Option<String>, toml::Value)> = Vec::new();
    for (k, v) in &table {
        match v {
            toml::Value::Table(t) => {
                entries.push((at(k, None), k.clone(), None, toml::Value::Boolean(true)));
                for (k2, v2) in t {
                    if let toml::Value::Table(_) = v2 {
                        return Err(fail(k, Some(k2), format!("unknown table [{k}.{k2}]")));
                    }
                    entries.push((at(k, Some(k2)), k.clone(), Some(k2.clone()), v2.clone()));
                }
            }
            _ => entries.push((at("", Some(k)), String::new(), Some(k.clone()), v.clone())),
        }
    }
    entries.sort_by_key(|e| e.0);
    for (line, table, key, value) in &entries {
        entry(table, key.as_deref(), value).map_err(|m| format!("config {path}:{line}: {m}"))?;
    }
    Ok(())
}

/// The OS's words for an I/O error, without Rust's "(os error N)".
fn os(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The line (from 1) of a `[table]` header or of `key =` inside `table`;
/// 1 when not found.
fn line_of(text: &str, table: &str, key: Option<&str>) -> usize {
    let mut current = String::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if let Some(h) = l.strip_prefix('[') {
            current = h.split(']').next().unwrap_or("").trim().to_string();
            if key.is_none() && current == table {
                return i + 1;
            }
            continue;
        }
        if let Some(k) = key {
            let name = l.split('=').next().unwrap_or("").trim().trim_matches('"');
            if current == table && name == k && l.contains('=') {
                return i + 1;
            }
        }
    }
    1
}
