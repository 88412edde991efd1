//! Writing XML text safely.

/// Escapes text and attribute content (`&`, `<`, `>`, `"`, `'`) and drops
/// characters XML 1.0 cannot carry.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Text for an XML comment: `--` is not allowed inside one.
pub(crate) fn comment(s: &str) -> String {
    escape(s).replace("--", "- -")
}

/// Appends `<tag>text</tag>`.
pub(crate) fn leaf(out: &mut String, indent: usize, tag: &str, text: &str) {
    for _ in 0..indent {
        out.push('\t');
    }
    out.push('<');
    out.push_str(tag);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(tag);
    out.push_str(">\n");
}

pub(crate) fn open(out: &mut String, indent: usize, tag: &str) {
    for _ in 0..indent {
        out.push('\t');
    }
    out.push('<');
    out.push_str(tag);
    out.push_str(">\n");
}

pub(crate) fn close(out: &mut String, indent: usize, tag: &str) {
    for _ in 0..indent {
        out.push('\t');
    }
    out.push_str("</");
    out.push_str(tag);
    out.push_str(">\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}c"), "a&lt;b&gt;&amp;&quot;&apos;c");
        assert_eq!(comment("x -- y"), "x - - y");
    }
}
