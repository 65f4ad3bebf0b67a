//! Protocol bytes rendered for humans (failure messages).

/// Printable rendering of protocol bytes: \r \n \t \\ \xHH escapes; long
/// runs are abbreviated so a 1 MB value does not flood the report.
pub fn escape_bytes(b: &[u8]) -> String {
    const HEAD: usize = 160;
    const TAIL: usize = 60;
    let render = |s: &[u8], out: &mut String| {
        for &c in s {
            match c {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                b'\t' => out.push_str("\\t"),
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(c as char),
                _ => out.push_str(&format!("\\x{:02x}", c)),
            }
        }
    };
    let mut out = String::new();
    if b.len() <= HEAD + TAIL + 40 {
        render(b, &mut out);
    } else {
        render(&b[..HEAD], &mut out);
        out.push_str(&format!("...<{} bytes omitted>...", b.len() - HEAD - TAIL));
        render(&b[b.len() - TAIL..], &mut out);
    }
    out
}
