//! Escaping for HTML and SVG text and attribute values: every value taken from a definition, an
//! input, an output or a history event goes through [`escape`] before it reaches a page.

use std::fmt::Write;

/// `text` with `& < > " '` replaced by character references, safe in element content and in
/// quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` percent-encoded as one URL path segment (everything but RFC 3986's unreserved characters).
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space) in a query-string value; `None` when the result is not UTF-8.
pub fn decode_query_value(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_neutralised() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn arns_round_trip_through_a_path_segment() {
        let arn = "arn:aws:states:us-east-1:123456789012:mapRun:m/Label é:1b2c";
        let encoded = encode_segment(arn);
        assert!(!encoded.contains('/') && !encoded.contains(':'));
        assert_eq!(decode_query_value(&encoded).unwrap(), arn);
        assert_eq!(decode_query_value("a%2"), Some("a%2".into()));
        assert_eq!(decode_query_value("%FF"), None);
    }
}
