//! The fields of text log lines, written for less: [`PlainFields`].
//!
//! Every request opens a `request` span with a handful of fields (id, method, trace, then the
//! identity, operation, namespace and status), and the `fmt` layer of `tracing-subscriber`
//! writes them out as text the moment they are recorded, whether a line is logged or not. Its
//! default field formatter styles each name and `=` for a terminal, even with colours off, and
//! that styling was about a tenth of the server's own instructions per request. [`PlainFields`]
//! writes the same text without it.

use std::error::Error;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// A field formatter for the `fmt` layer of `tracing-subscriber`, for logs without colours: the
/// same text as its default formatter with colours off (`name=value` pairs separated by
/// spaces; the message bare; strings quoted; a `r#` prefix dropped; an error with its sources
/// as `name=error name.sources=[source, ...]`; control characters of messages and errors
/// escaped when the writer asks for it), without styling names for a terminal.
///
/// ```
/// let subscriber = tracing_subscriber::fmt()
///     .with_ansi(false)
///     .fmt_fields(bahamut::PlainFields)
///     .finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!(answer = 42, "ready"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainFields;

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let sanitize = writer.sanitizes_ansi_escapes();
        let mut visitor = PlainVisitor {
            writer: Gathered::new(writer),
            sanitize,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result?;
        visitor.writer.flush()
    }
}

/// Writes the fields of one record, in order.
struct PlainVisitor<'writer> {
    writer: Gathered<'writer>,
    sanitize: bool,
    /// No field written yet (no separating space before the next one).
    empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    fn write_field(&mut self, name: &str, value: &dyn fmt::Debug) -> fmt::Result {
        if !self.empty {
            self.writer.write_char(' ')?;
        }
        self.empty = false;
        if name == "message" {
            return match self.sanitize {
                true => write!(self.writer, "{:?}", Escaped(value)),
                false => write!(self.writer, "{value:?}"),
            };
        }
        self.writer
            .write_str(name.strip_prefix("r#").unwrap_or(name))?;
        self.writer.write_char('=')?;
        write!(self.writer, "{value:?}")
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.record_debug(field, &format_args!("{value}")),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let sanitize = self.sanitize;
        match value.source() {
            Some(source) => self.record_debug(
                field,
                &format_args!(
                    "{} {}.sources={}",
                    Shown(value, sanitize),
                    field.name(),
                    Sources(source, sanitize)
                ),
            ),
            None => self.record_debug(field, &format_args!("{}", Shown(value, sanitize))),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self.write_field(field.name(), value);
        }
    }
}

/// Text gathered on the stack and handed to the writer in few pieces: the writer of a span's
/// fields is a `String` that would otherwise grow several times for every request's span.
struct Gathered<'writer> {
    writer: Writer<'writer>,
    gathered: [u8; 256],
    len: usize,
}

impl<'writer> Gathered<'writer> {
    fn new(writer: Writer<'writer>) -> Self {
        Self {
            writer,
            gathered: [0; 256],
            len: 0,
        }
    }

    /// Hands what was gathered to the writer.
    fn flush(&mut self) -> fmt::Result {
        // Only whole `str`s are gathered: the bytes are always UTF-8.
        let text = std::str::from_utf8(&self.gathered[..self.len]).map_err(|_| fmt::Error)?;
        self.writer.write_str(text)?;
        self.len = 0;
        Ok(())
    }
}

impl fmt::Write for Gathered<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.len + text.len() > self.gathered.len() {
            self.flush()?;
            if text.len() > self.gathered.len() {
                return self.writer.write_str(text);
            }
        }
        self.gathered[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
        self.len += text.len();
        Ok(())
    }
}

/// A value's `Debug` text with its control characters escaped.
struct Escaped<'a>(&'a dyn fmt::Debug);

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(Escaping(f), "{:?}", self.0)
    }
}

/// An error's `Display` text, its control characters escaped if `.1`.
struct Shown<'a>(&'a (dyn Error + 'static), bool);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            true => write!(Escaping(f), "{}", self.0),
            false => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An error and the errors under it, as a list: `[error, source, ...]`.
struct Sources<'a>(&'a (dyn Error + 'static), bool);

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut next = Some(self.0);
        while let Some(error) = next {
            list.entry(&Shown(error, self.1));
            next = error.source();
        }
        list.finish()
    }
}

/// A writer that escapes the characters a terminal would act on: ESC, BEL, BS, FF and DEL as
/// `\x1b`-style escapes, and the C1 controls (U+0080 to U+009F) as `\u{80}`-style ones.
struct Escaping<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, ch) in text.char_indices() {
            let escape = match ch {
                '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' => true,
                _ => ('\u{80}'..='\u{9f}').contains(&ch),
            };
            if !escape {
                continue;
            }
            self.0.write_str(&text[plain..at])?;
            match u32::from(ch) {
                code @ 0..=0x7f => write!(self.0, "\\x{code:02x}")?,
                code => write!(self.0, "\\u{{{code:x}}}")?,
            }
            plain = at + ch.len_utf8();
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Log lines kept in memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[derive(Debug)]
    struct Failure(&'static str, Option<Box<Failure>>);

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Failure {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    /// Every kind of field the stack logs, in spans and events.
    fn log_everything() {
        let span = tracing::error_span!(
            "request",
            id = %"8b0c5c1e-1",
            method = %http::Method::GET,
            identity = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        let _entered = span.enter();
        span.record("identity", tracing::field::display("list"));
        tracing::info!("a bare message");
        tracing::warn!(
            count = 42_u64,
            delta = -3_i64,
            ratio = 0.5_f64,
            flag = true,
            name = "quoted \"text\"",
            shown = %"displayed",
            debugged = ?vec!["a", "b"],
            r#type = "kind",
            "fields and a message"
        );
        tracing::error!("escapes: \x1b[31mred\x07 \u{9b}2J done\x7f");
        let lone = Failure("lone \x1b failure", None);
        let nested = Failure("outer", Some(Box::new(Failure("inner \u{85}", None))));
        tracing::error!(error = &lone as &(dyn Error + 'static), "failed");
        tracing::error!(error = &nested as &(dyn Error + 'static), "failed twice");
        // Longer than what is gathered on the stack at once.
        let long = "0123456789".repeat(40);
        tracing::info!(first = %long, second = %long, "long fields");
        span.record("status", 200_u16);
        tracing::info!(done = true);
    }

    fn logged<N>(fields: N) -> String
    where
        N: for<'writer> FormatFields<'writer> + Send + Sync + 'static,
    {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_writer(lines.clone())
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, log_everything);
        let bytes = lines.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn plain_fields_write_what_the_default_formatter_writes_without_colours() {
        let plain = logged(PlainFields);
        let default = logged(tracing_subscriber::fmt::format::DefaultFields::new());
        assert_eq!(plain, default);
        // The comparison covers what it means to.
        assert_eq!(plain.lines().count(), 7, "{plain}");
        let long = "0123456789".repeat(40);
        assert!(
            plain.contains(&format!("long fields first={long} second={long}\n")),
            "{plain}"
        );
        assert!(
            plain.contains(
                "request{id=8b0c5c1e-1 method=GET identity=list}: bahamut::log_fields::tests: \
                 fields and a message count=42 delta=-3 ratio=0.5 flag=true \
                 name=\"quoted \\\"text\\\"\" shown=displayed debugged=[\"a\", \"b\"] type=\"kind\""
            ),
            "{plain}"
        );
        assert!(
            plain.contains("escapes: \\x1b[31mred\\x07 \\u{9b}2J done\\x7f"),
            "{plain}"
        );
        assert!(
            plain.contains("failed twice error=outer error.sources=[inner \\u{85}]"),
            "{plain}"
        );
        assert!(plain.contains("identity=list status=200}"), "{plain}");
    }
}
