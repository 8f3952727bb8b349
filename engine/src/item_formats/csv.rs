//! An incremental CSV decoder with Step Functions' rules, fed chunk by chunk.
//!
//! Records end at a newline (`\n` or `\r\n`) outside quotes; fields are split on the delimiter.
//! Quotes allow embedded delimiters and newlines, and `""` inside quotes is a quote. A backslash
//! escapes a backslash, a quote or the delimiter; before any other character it is dropped.
//! Empty lines are skipped.

/// Decodes records from bytes that arrive in chunks.
#[derive(Debug)]
pub struct CsvDecoder {
    delimiter: u8,
    buf: Vec<u8>,
    /// Where the next record starts in `buf`.
    start: usize,
}

impl CsvDecoder {
    /// A decoder splitting fields on `delimiter`.
    pub fn new(delimiter: u8) -> CsvDecoder {
        CsvDecoder { delimiter, buf: Vec::new(), start: 0 }
    }

    /// Appends bytes.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete record; with `eof`, a last record without a final newline counts as complete.
    /// `None` when more bytes are needed (or, with `eof`, at the end).
    pub fn next_record(&mut self, eof: bool) -> Option<Vec<String>> {
        loop {
            let (record, next) = self.parse(eof)?;
            self.start = next;
            if let Some(r) = record {
                return Some(r);
            }
        }
    }

    /// Parses one record from `start`: `Some((None, next))` for an empty line.
    fn parse(&self, eof: bool) -> Option<(Option<Vec<String>>, usize)> {
        let bytes = &self.buf[self.start..];
        if bytes.is_empty() {
            return None;
        }
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut quoted = false;
        let mut i = 0;
        let end = loop {
            let Some(&b) = bytes.get(i) else {
                if !eof {
                    return None;
                }
                break i;
            };
            if quoted {
                match b {
                    b'"' if bytes.get(i + 1) == Some(&b'"') => {
                        field.push(b'"');
                        i += 2;
                    }
                    b'"' => {
                        quoted = false;
                        i += 1;
                    }
                    b'\\' => {
                        match bytes.get(i + 1) {
                            Some(&n) => field.push(n),
                            None if !eof => return None,
                            None => {}
                        }
                        i += 2;
                    }
                    _ => {
                        field.push(b);
                        i += 1;
                    }
                }
                continue;
            }
            match b {
                b'\n' => break i,
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => break i,
                b'\r' if bytes.get(i + 1).is_none() && !eof => return None,
                b'"' => {
                    quoted = true;
                    i += 1;
                }
                b'\\' => {
                    match bytes.get(i + 1) {
                        Some(&n) if n == b'\n' || n == b'\r' => {}
                        Some(&n) => field.push(n),
                        None if !eof => return None,
                        None => {}
                    }
                    i += 2;
                }
                d if d == self.delimiter => {
                    fields.push(String::from_utf8_lossy(&std::mem::take(&mut field)).into_owned());
                    i += 1;
                }
                _ => {
                    field.push(b);
                    i += 1;
                }
            }
        };
        let consumed = match bytes.get(end) {
            Some(b'\r') => end + 2,
            Some(b'\n') => end + 1,
            _ => end.min(bytes.len()),
        };
        let next = self.start + consumed.min(bytes.len());
        if end == 0 && fields.is_empty() {
            return Some((None, next));
        }
        fields.push(String::from_utf8_lossy(&field).into_owned());
        Some((Some(fields), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, chunk: usize) -> Vec<Vec<String>> {
        let mut d = CsvDecoder::new(b',');
        let mut out = Vec::new();
        for c in text.as_bytes().chunks(chunk.max(1)) {
            d.feed(c);
            while let Some(r) = d.next_record(false) {
                out.push(r);
            }
        }
        while let Some(r) = d.next_record(true) {
            out.push(r);
        }
        out
    }

    fn rows(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter().map(|r| r.iter().map(|s| (*s).to_owned()).collect()).collect()
    }

    #[test]
    fn records_fields_and_blank_lines() {
        let text = "a,b,c\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n\n";
        let expected = rows(&[
            &["a", "b", "c"],
            &["Value4", "Value5", "Value6"],
            &["", "", "", ""],
            &["true", "1", "'HelloWorld'"],
            &["Null", "None", ""],
            &["   "],
        ]);
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(all(text, chunk), expected, "chunk size {chunk}");
        }
    }

    #[test]
    fn quotes_escapes_and_crlf() {
        let text = "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\na\\,b,c\\\\d,e\\qf\r\nlast";
        let expected = rows(&[&["x,y", "say \"hi\"", "two\nlines"], &["a,b", "c\\d", "eqf"], &["last"]]);
        for chunk in [1, 2, 5, 1000] {
            assert_eq!(all(text, chunk), expected, "chunk size {chunk}");
        }
    }

    #[test]
    fn other_delimiters() {
        let mut d = CsvDecoder::new(b'|');
        d.feed(b"a|b,c\n");
        assert_eq!(d.next_record(false), Some(vec!["a".to_owned(), "b,c".to_owned()]));
        assert_eq!(d.next_record(true), None);
    }
}
