//! Reads a Dimona batch file as a stream and checks it against
//! [`crate::schema`]. A file with any structural error is refused as a whole
//! (a negative ACRF lists every error with its line); a structurally valid
//! file yields its forms, whose values are judged later, form by form.

use crate::schema::{self, Content, Element};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::io::{self, BufRead, Read};

/// Bounds on untrusted input.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Element nesting (the schema needs 6).
    pub max_depth: usize,
    /// Characters of text in one element.
    pub max_text: usize,
    pub max_forms: usize,
    /// Errors listed before reading stops.
    pub max_errors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_text: 4096,
            max_forms: 100_000,
            max_errors: 50,
        }
    }
}

/// A structural error: the file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// `<zone or block>-<3 digits>`, as in the ONSS glossary.
    pub error_id: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// A value read from the file, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub tag: &'static str,
    /// The glossary zone of the element.
    pub zone: &'static str,
    pub text: String,
    pub line: u64,
    pub column: u64,
}

/// One `Form` of the file, structurally valid.
#[derive(Debug, Clone)]
pub struct Form {
    /// 1-based position in the file.
    pub index: usize,
    pub line: u64,
    pub column: u64,
    /// `DimonaIn`, `DimonaOut`, `DimonaUpdate`, `DimonaCancel` or
    /// `DailyRegistrationDeclaration`.
    pub kind: &'static str,
    pub kind_line: u64,
    pub kind_column: u64,
    /// Paths relative to the form (`DimonaIn/NaturalPerson/INSS`), in
    /// document order.
    pub values: Vec<(String, Value)>,
}

impl Form {
    /// The first value at `path`.
    pub fn get(&self, path: &str) -> Option<&Value> {
        self.values.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }

    /// Every value at `path`, in order.
    pub fn all<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.values
            .iter()
            .filter(move |(p, _)| p == path)
            .map(|(_, v)| v)
    }
}

#[derive(Debug)]
pub enum ReadOutcome {
    Accepted(Vec<Form>),
    Rejected(Vec<FileError>),
}

/// Counts lines as the XML reader consumes bytes, so every event knows
/// where it started without keeping the file.
struct Counting<R> {
    inner: R,
    consumed: u64,
    line: u64,
    line_start: u64,
}

impl<R: BufRead> Counting<R> {
    fn position(&self) -> (u64, u64) {
        (self.line, self.consumed - self.line_start + 1)
    }
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The bytes being consumed are still in the inner buffer.
        if let Ok(buf) = self.inner.fill_buf() {
            let amt = amt.min(buf.len());
            for (i, b) in buf[..amt].iter().enumerate() {
                if *b == b'\n' {
                    self.line += 1;
                    self.line_start = self.consumed + i as u64 + 1;
                }
            }
        }
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

struct Frame {
    /// `None`: a subtree skipped after an error.
    element: Option<&'static Element>,
    particle: usize,
    count: u32,
    text: String,
    line: u64,
    column: u64,
    path_len: usize,
}

struct State<'l> {
    limits: &'l Limits,
    errors: Vec<FileError>,
    forms: Vec<Form>,
    form: Option<Form>,
    stack: Vec<Frame>,
    /// Path of the current element relative to the form.
    path: String,
    seen_root: bool,
}

impl State<'_> {
    fn error(&mut self, id: String, line: u64, column: u64, message: String) {
        if self.errors.len() < self.limits.max_errors {
            self.errors.push(FileError {
                error_id: id,
                line,
                column,
                message,
            });
        }
    }

    fn full(&self) -> bool {
        self.errors.len() >= self.limits.max_errors
    }

    fn start(&mut self, name: &str, line: u64, column: u64) -> Result<(), FileError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(FileError {
                error_id: "90372-003".into(),
                line,
                column,
                message: format!("elements nested more than {} deep", self.limits.max_depth),
            });
        }
        let path_len = self.path.len();
        let Some(parent) = self.stack.last_mut() else {
            // The root.
            if self.seen_root {
                return Err(FileError {
                    error_id: "90372-091".into(),
                    line,
                    column,
                    message: "content after the end of the Dimona element".into(),
                });
            }
            self.seen_root = true;
            if name != schema::ROOT {
                return Err(FileError {
                    error_id: "90372-001".into(),
                    line,
                    column,
                    message: format!("the root element must be Dimona, not {name}"),
                });
            }
            self.stack.push(Frame {
                element: schema::element(name),
                particle: 0,
                count: 0,
                text: String::new(),
                line,
                column,
                path_len,
            });
            return Ok(());
        };
        let Some(parent_el) = parent.element else {
            // Inside a skipped subtree.
            self.stack.push(Frame {
                element: None,
                particle: 0,
                count: 0,
                text: String::new(),
                line,
                column,
                path_len,
            });
            return Ok(());
        };
        let Content::Complex(particles) = &parent_el.content else {
            let (code, pname) = (parent_el.code, parent_el.name);
            self.error(
                format!("{code}-003"),
                line,
                column,
                format!("{pname} holds a value, not elements (found {name})"),
            );
            self.push_skipped(line, column, path_len);
            return Ok(());
        };
        // Find the particle for `name`, from the current one on; skipped
        // mandatory particles are missing.
        let mut missing = Vec::new();
        let mut p = parent.particle;
        let mut count = parent.count;
        let mut accepted = None;
        while p < particles.len() {
            let part = &particles[p];
            if part.names.contains(&name) {
                if part.max == 0 {
                    break;
                }
                if count < part.max {
                    accepted = Some(p);
                    count += 1;
                    break;
                }
            } else if count < part.min {
                missing.push(part.names);
            }
            p += 1;
            count = 0;
        }
        let block = parent_el.code;
        let parent_name = parent_el.name;
        match accepted {
            Some(p) => {
                parent.particle = p;
                parent.count = count;
                for names in missing {
                    self.missing(names, block, line, column);
                }
            }
            None => {
                let forbidden = particles
                    .iter()
                    .any(|part| part.max == 0 && part.names.contains(&name));
                match schema::element(name) {
                    Some(el) if forbidden => self.error(
                        format!("{}-005", el.code),
                        line,
                        column,
                        format!("{name} is not allowed in {parent_name}"),
                    ),
                    Some(_) if particles.iter().any(|part| part.names.contains(&name)) => self
                        .error(
                            format!("{block}-091"),
                            line,
                            column,
                            format!("{name} is out of order or repeated in {parent_name}"),
                        ),
                    _ => self.error(
                        format!("{block}-091"),
                        line,
                        column,
                        format!("{name} is not an element of {parent_name}"),
                    ),
                }
                self.push_skipped(line, column, path_len);
                return Ok(());
            }
        }
        let el = schema::element(name);
        if let Some(el) = el {
            if el.name == "Form" && self.stack.len() == 1 {
                if self.forms.len() >= self.limits.max_forms {
                    return Err(FileError {
                        error_id: "90059-006".into(),
                        line,
                        column,
                        message: format!("more than {} forms in one file", self.limits.max_forms),
                    });
                }
                self.path.clear();
                self.form = Some(Form {
                    index: self.forms.len() + 1,
                    line,
                    column,
                    kind: "",
                    kind_line: line,
                    kind_column: column,
                    values: Vec::new(),
                });
            } else if self.form.is_some() {
                let declares = matches!(
                    el.name,
                    "DimonaIn"
                        | "DimonaOut"
                        | "DimonaUpdate"
                        | "DimonaCancel"
                        | "DailyRegistrationDeclaration"
                );
                if let Some(f) = self
                    .form
                    .as_mut()
                    .filter(|_| declares && self.stack.len() == 2)
                {
                    f.kind = el.name;
                    f.kind_line = line;
                    f.kind_column = column;
                }
                if !self.path.is_empty() {
                    self.path.push('/');
                }
                self.path.push_str(el.name);
            }
        }
        self.stack.push(Frame {
            element: el,
            particle: 0,
            count: 0,
            text: String::new(),
            line,
            column,
            path_len,
        });
        Ok(())
    }

    fn push_skipped(&mut self, line: u64, column: u64, path_len: usize) {
        self.stack.push(Frame {
            element: None,
            particle: 0,
            count: 0,
            text: String::new(),
            line,
            column,
            path_len,
        });
    }

    fn missing(&mut self, names: &[&str], block: &str, line: u64, column: u64) {
        let (id, what) = match names {
            [one] => (
                schema::element(one)
                    .map_or_else(|| format!("{block}-001"), |e| format!("{}-001", e.code)),
                (*one).to_string(),
            ),
            many => (
                format!("{block}-001"),
                format!("one of {}", many.join(", ")),
            ),
        };
        self.error(id, line, column, format!("{what} is missing"));
    }

    fn text(&mut self, t: &str, line: u64, column: u64) -> Result<(), FileError> {
        let Some(frame) = self.stack.last_mut() else {
            if t.trim().is_empty() {
                return Ok(());
            }
            return Err(FileError {
                error_id: "90372-003".into(),
                line,
                column,
                message: "text outside the Dimona element".into(),
            });
        };
        // Elements with element content keep only what is not whitespace
        // (an error at their end); skipped subtrees keep nothing. Without
        // this, the indentation between 10,000 forms would count as the
        // root's text.
        let t = match frame.element.map(|e| &e.content) {
            Some(Content::Simple(_)) => t,
            Some(Content::Complex(_)) => t.trim(),
            None => "",
        };
        if t.is_empty() {
            return Ok(());
        }
        if frame.text.len() + t.len() > self.limits.max_text {
            let name = frame.element.map_or("?", |e| e.name);
            let code = frame.element.map_or("90372", |e| e.code);
            return Err(FileError {
                error_id: format!("{code}-003"),
                line,
                column,
                message: format!("{name}: more than {} characters", self.limits.max_text),
            });
        }
        frame.text.push_str(t);
        Ok(())
    }

    fn end(&mut self, line: u64, column: u64) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let Some(el) = frame.element else {
            return;
        };
        match &el.content {
            Content::Complex(particles) => {
                if !frame.text.trim().is_empty() {
                    self.error(
                        format!("{}-003", el.code),
                        frame.line,
                        frame.column,
                        format!("{} holds elements, not text", el.name),
                    );
                }
                // Mandatory particles after the last one seen.
                let (mut p, mut count) = (frame.particle, frame.count);
                while p < particles.len() {
                    if count < particles[p].min {
                        self.missing(particles[p].names, el.code, line, column);
                    }
                    p += 1;
                    count = 0;
                }
                if el.name == "Form" && self.stack.len() == 1 {
                    if let Some(f) = self.form.take() {
                        self.forms.push(f);
                    }
                    self.path.clear();
                    return;
                }
            }
            Content::Simple(t) => {
                let v = frame.text.trim();
                if let Err((suffix, why)) = schema::check_simple(t, v) {
                    self.error(
                        format!("{}-{suffix}", el.code),
                        frame.line,
                        frame.column,
                        format!("{} {why} (found \"{}\")", el.name, shorten(v)),
                    );
                } else if let Some(form) = self.form.as_mut() {
                    form.values.push((
                        self.path.clone(),
                        Value {
                            tag: el.name,
                            zone: el.code,
                            text: v.to_owned(),
                            line: frame.line,
                            column: frame.column,
                        },
                    ));
                }
            }
        }
        if self.form.is_some() {
            self.path.truncate(frame.path_len);
        }
    }
}

fn shorten(v: &str) -> String {
    if v.chars().count() > 40 {
        let s: String = v.chars().take(40).collect();
        format!("{s}...")
    } else {
        v.to_owned()
    }
}

/// Reads a whole Dimona file from `input`. `Err` only for IO errors (the
/// upload broke off); anything wrong in the content is a `Rejected`.
pub fn read_dimona_file<R: BufRead>(input: R, limits: &Limits) -> io::Result<ReadOutcome> {
    let mut reader = Reader::from_reader(Counting {
        inner: input,
        consumed: 0,
        line: 1,
        line_start: 0,
    });
    {
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
    }
    let mut st = State {
        limits,
        errors: Vec::new(),
        forms: Vec::new(),
        form: None,
        stack: Vec::new(),
        path: String::new(),
        seen_root: false,
    };
    let mut buf = Vec::with_capacity(1024);
    let fatal = |e: FileError, mut st: State| {
        st.errors.truncate(limits.max_errors.saturating_sub(1));
        st.errors.push(e);
        Ok(ReadOutcome::Rejected(st.errors))
    };
    loop {
        let (line, column) = reader.get_ref().position();
        let event = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(quick_xml::Error::Io(e)) => return Err(io::Error::new(e.kind(), e.to_string())),
            Err(e) => {
                let (l, c) = reader.get_ref().position();
                return fatal(
                    FileError {
                        error_id: "90372-003".into(),
                        line: l,
                        column: c,
                        message: format!("not well-formed XML: {e}"),
                    },
                    st,
                );
            }
        };
        // Tags: where the `<` was, from where the tag ended (the reader
        // may have taken the `<` with the text before it).
        let (end_line, end_column) = reader.get_ref().position();
        let tag_at = |len: usize| (end_line, end_column.saturating_sub(len as u64).max(1));
        let step = match event {
            Event::Start(e) => match std::str::from_utf8(e.name().as_ref()) {
                Ok(name) => {
                    let (line, column) = tag_at(e.len() + 2);
                    st.start(name, line, column)
                }
                Err(_) => Err(FileError {
                    error_id: "90372-003".into(),
                    line,
                    column,
                    message: "an element name is not UTF-8".into(),
                }),
            },
            Event::End(e) => {
                let (line, column) = tag_at(e.len() + 3);
                st.end(line, column);
                Ok(())
            }
            Event::Empty(_) => Ok(()),
            Event::Text(t) => match t.decode() {
                Ok(s) => st.text(&s, line, column),
                Err(e) => Err(FileError {
                    error_id: "90372-003".into(),
                    line,
                    column,
                    message: format!("text is not valid: {e}"),
                }),
            },
            Event::CData(t) => match std::str::from_utf8(&t) {
                Ok(s) => st.text(s, line, column),
                Err(_) => Err(FileError {
                    error_id: "90372-003".into(),
                    line,
                    column,
                    message: "CDATA is not UTF-8".into(),
                }),
            },
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => match r.decode().as_deref() {
                        Ok("amp") => Some("&".into()),
                        Ok("lt") => Some("<".into()),
                        Ok("gt") => Some(">".into()),
                        Ok("apos") => Some("'".into()),
                        Ok("quot") => Some("\"".into()),
                        _ => None,
                    },
                    Err(_) => None,
                };
                match resolved {
                    Some(s) => st.text(&s, line, column),
                    None => Err(FileError {
                        error_id: "90372-005".into(),
                        line,
                        column,
                        message: "entity references other than &amp; &lt; &gt; &apos; &quot; and character references are not accepted".into(),
                    }),
                }
            }
            Event::DocType(_) => Err(FileError {
                error_id: "90372-005".into(),
                line,
                column,
                message: "a DOCTYPE (DTD) is not accepted in a batch file".into(),
            }),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => Ok(()),
            Event::Eof => break,
        };
        if let Err(e) = step {
            return fatal(e, st);
        }
        if st.full() {
            break;
        }
        buf.clear();
    }
    if !st.seen_root {
        st.error(
            "90372-001".into(),
            1,
            1,
            "the file holds no Dimona element".into(),
        );
    } else if !st.stack.is_empty() && !st.full() {
        let (line, column) = reader.get_ref().position();
        st.error(
            "90372-003".into(),
            line,
            column,
            "the file ends before its elements are closed".into(),
        );
    }
    if st.errors.is_empty() {
        Ok(ReadOutcome::Accepted(st.forms))
    } else {
        Ok(ReadOutcome::Rejected(st.errors))
    }
}

#[cfg(test)]
mod tests;
