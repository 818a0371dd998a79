//! The `request` span of every request, opened on arrival or, under [`DeferredSpans`], when
//! the request first writes a log line or opens a span.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use elemental::{Hex, TraceContext};
use tracing::field::{Field, Value, ValueSet, display};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Span, Subscriber};
use tracing_core::callsite::DefaultCallsite;
use tracing_core::field::FieldSet;
use tracing_core::metadata::Kind;
use tracing_core::span::Current;

/// The span's target: the server module's, where it was always opened.
const TARGET: &str = "bahamut::server";

/// The span's fields, in the order they are written.
static FIELD_NAMES: [&str; 9] = [
    "id",
    "method",
    "trace_id",
    "span_id",
    "parent_span_id",
    "identity",
    "operation",
    "namespace",
    "status",
];

static CALLSITE: DefaultCallsite = DefaultCallsite::new(&METADATA);

/// At error level, so that the request's id stays on its log lines whatever level is kept.
static METADATA: Metadata<'static> = Metadata::new(
    "request",
    TARGET,
    Level::ERROR,
    Some(file!()),
    Some(line!()),
    Some(TARGET),
    FieldSet::new(&FIELD_NAMES, tracing_core::identify_callsite!(&CALLSITE)),
    Kind::SPAN,
);

/// The span's fields, in [`FIELD_NAMES`]' order.
fn fields() -> &'static [Field] {
    static FIELDS: std::sync::OnceLock<Vec<Field>> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| METADATA.fields().iter().collect())
}

/// What the span says of a request when it opens.
pub(crate) struct RequestFields {
    /// The request id ([`elemental::request_id`]).
    id: String,
    /// The HTTP method.
    method: http::Method,
    /// The server's span in the request's trace.
    trace: TraceContext,
    /// The client's span, from its `traceparent`.
    parent_span_id: Option<[u8; 8]>,
    /// The model request's identity, operation and namespace, once known.
    model: Option<ModelFields>,
}

impl RequestFields {
    /// The fields of a request whose path is not read yet.
    pub(crate) fn new(
        id: String,
        method: http::Method,
        trace: TraceContext,
        parent: Option<&TraceContext>,
    ) -> Self {
        Self {
            id,
            method,
            trace,
            parent_span_id: parent.map(|p| p.span_id),
            model: None,
        }
    }

    /// Calls `f` with the fields' values, for the span's opening.
    fn with_values<R>(&self, f: impl FnOnce(&ValueSet<'_>) -> R) -> R {
        let id = display(&self.id);
        let method = display(&self.method);
        let trace_id = display(Hex(&self.trace.trace_id));
        let span_id = display(Hex(&self.trace.span_id));
        let parent = self.parent_span_id.as_ref().map(|p| display(Hex(p)));
        let model = self.model.as_ref();
        let identity = model.map(|m| display(m.identity));
        let operation = model.map(|m| display(m.operation));
        let namespace = model.map(|m| display(&m.namespace));
        let values: [Option<&dyn Value>; 9] = [
            Some(&id),
            Some(&method),
            Some(&trace_id),
            Some(&span_id),
            parent.as_ref().map(|v| v as &dyn Value),
            identity.as_ref().map(|v| v as &dyn Value),
            operation.as_ref().map(|v| v as &dyn Value),
            namespace.as_ref().map(|v| v as &dyn Value),
            None,
        ];
        let fields = fields();
        let entries: [(&Field, Option<&dyn Value>); 9] =
            std::array::from_fn(|i| (&fields[i], values[i]));
        f(&METADATA.fields().value_set(&entries))
    }
}

/// The model request's part of the span.
struct ModelFields {
    identity: &'static str,
    operation: &'static str,
    namespace: String,
}

/// A request not polled at the moment, under [`DeferredSpans`].
struct Deferred {
    fields: RequestFields,
    /// Whether the span was asked for: opened, or found disabled by the filters.
    asked: bool,
    /// The span, once opened.
    span: Option<Id>,
}

thread_local! {
    /// The deferred request this thread is polling.
    static POLLED: RefCell<Option<Deferred>> = const { RefCell::new(None) };
}

/// The `request` span of one request.
pub(crate) struct RequestSpan(Mode);

/// How a request's span is opened.
enum Mode {
    /// Opened when the request arrived.
    Open(Span),
    /// Opened by [`DeferredSpans`] when needed; the state is `None` only while polled (it is
    /// then in [`POLLED`]).
    Deferred {
        dispatch: Dispatch,
        state: Option<Deferred>,
    },
}

impl RequestSpan {
    /// The span of a request that just arrived: deferred when the current subscriber is a
    /// [`DeferredSpans`], opened now otherwise.
    pub(crate) fn start(fields: RequestFields) -> Self {
        let deferring = tracing::dispatcher::get_default(|dispatch| {
            dispatch.is::<DeferredSpans>().then(|| dispatch.clone())
        });
        match deferring {
            Some(dispatch) => Self(Mode::Deferred {
                dispatch,
                state: Some(Deferred {
                    fields,
                    asked: false,
                    span: None,
                }),
            }),
            None => Self(Mode::Open(open_now(&fields))),
        }
    }

    /// Polls `future` in the request's span.
    pub(crate) fn poll_in<F: Future>(
        &mut self,
        future: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        match &mut self.0 {
            Mode::Open(span) => {
                let _entered = span.enter();
                future.poll(cx)
            }
            Mode::Deferred { dispatch, state } => {
                let _polled = Polled::install(state, dispatch);
                future.poll(cx)
            }
        }
    }

    /// Records the answer's status on the span, if it is open.
    pub(crate) fn record_status(&self, status: u16) {
        match &self.0 {
            Mode::Open(span) => {
                span.record("status", status);
            }
            Mode::Deferred { dispatch, state } => {
                if let Some(id) = state.as_ref().and_then(|s| s.span.as_ref()) {
                    record(dispatch, id, &[("status", &status)]);
                }
            }
        }
    }
}

impl Drop for RequestSpan {
    fn drop(&mut self) {
        if let Mode::Deferred { dispatch, state } = &mut self.0 {
            if let Some(id) = state.as_mut().and_then(|s| s.span.take()) {
                dispatch.try_close(id);
            }
        }
    }
}

/// A deferred request's state moved into [`POLLED`] for one poll, its span (if open) entered;
/// when dropped, also if the poll panics, the span is left and the state moved back (the
/// previous one restored).
struct Polled<'a> {
    home: &'a mut Option<Deferred>,
    previous: Option<Deferred>,
    dispatch: &'a Dispatch,
}

impl<'a> Polled<'a> {
    fn install(home: &'a mut Option<Deferred>, dispatch: &'a Dispatch) -> Self {
        if let Some(id) = home.as_ref().and_then(|s| s.span.as_ref()) {
            dispatch.enter(id);
        }
        let previous = POLLED.with(|polled| polled.replace(home.take()));
        Self {
            home,
            previous,
            dispatch,
        }
    }
}

impl Drop for Polled<'_> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        *self.home = POLLED.with(|polled| polled.replace(previous));
        // Opened before this poll or during it, the span is left now.
        if let Some(id) = self.home.as_ref().and_then(|s| s.span.as_ref()) {
            self.dispatch.exit(id);
        }
    }
}

/// The request span opened at once (the default), unless the filters disable it.
fn open_now(fields: &RequestFields) -> Span {
    let enabled = Level::ERROR <= LevelFilter::current()
        && !CALLSITE.interest().is_never()
        && tracing::dispatcher::get_default(|dispatch| dispatch.enabled(&METADATA));
    match enabled {
        true => fields.with_values(|values| Span::new(&METADATA, values)),
        false => Span::none(),
    }
}

/// Records `values` (fields of the span, by name) on the span `id`.
fn record(dispatch: &Dispatch, id: &Id, values: &[(&str, &dyn Value)]) {
    let fields = METADATA.fields();
    for (name, value) in values {
        if let Some(field) = fields.field(name) {
            let entries = [(&field, Some(*value))];
            dispatch.record(id, &Record::new(&fields.value_set(&entries)));
        }
    }
}

/// Records the model request's identity, operation and namespace on the current request's
/// span: kept for the span's opening when it is deferred, recorded on it when it is open.
pub(crate) fn record_model(identity: &'static str, operation: &'static str, namespace: &str) {
    let deferred = POLLED.try_with(|polled| {
        let Ok(mut polled) = polled.try_borrow_mut() else {
            return false;
        };
        let Some(state) = polled.as_mut() else {
            return false;
        };
        state.fields.model = Some(ModelFields {
            identity,
            operation,
            namespace: namespace.to_string(),
        });
        if let Some(id) = &state.span {
            tracing::dispatcher::get_default(|dispatch| {
                let values: [(&str, &dyn Value); 3] = [
                    ("identity", &display(identity)),
                    ("operation", &display(operation)),
                    ("namespace", &display(namespace)),
                ];
                record(dispatch, id, &values);
            });
        }
        true
    });
    if !deferred.unwrap_or(false) {
        // One record of the three: each record finds the span again and formats into its
        // fields.
        let span = Span::current();
        tracing::record_all!(
            span,
            identity = %identity,
            operation = %operation,
            namespace = %namespace,
        );
    }
}

/// A subscriber wrapper under which a request that writes no log line costs no span.
///
/// Every request is served under a `request` span (error level, target `bahamut::server`) with
/// the fields `id`, `method`, `trace_id`, `span_id`, `parent_span_id` (when the client sent a
/// `traceparent`), then `identity`, `operation` and `namespace` (once the model path is read)
/// and `status` (at the end). Opened when the request arrives, as `tracing` spans are, the
/// span costs every request its registration, its entering and leaving, and the formatting of
/// its fields by the `fmt` layer, whether a line is ever written under it or not: about a fifth
/// of the server's instructions for a GET served from memory (docs/benchmarks.md).
///
/// Under `DeferredSpans` (the process's default subscriber, wrapping the real one), the span
/// opens only when the request first writes an event, opens a span of its own or asks for
/// `Span::current()`, with every field known by then; everything else passes to the wrapped
/// subscriber as it is. The lines written are the same. What changes is for consumers of
/// spans: the span of a request that wrote nothing never exists, and the others start at their
/// first line. So keep spans on arrival (any other subscriber) where spans are exported, as the
/// apiserver does with `--otlp-endpoint`. A tool that downcasts the global subscriber to its
/// own type (to `Registry`, say) finds `DeferredSpans` instead.
///
/// ```
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// let logs = tracing_subscriber::fmt().with_ansi(false).finish();
/// let _default = bahamut::DeferredSpans::new(logs).set_default();
/// ```
pub struct DeferredSpans {
    inner: Box<dyn Subscriber + Send + Sync>,
}

impl DeferredSpans {
    /// Wraps `subscriber`, the process's logs for instance (`tracing_subscriber::fmt()...
    /// .finish()`, or a `registry()` with layers); install the result as the default
    /// subscriber.
    pub fn new(subscriber: impl Subscriber + Send + Sync + 'static) -> Self {
        // Registered now, so that the filters know the span before the first request asks.
        CALLSITE.register();
        Self {
            inner: Box::new(subscriber),
        }
    }

    /// Opens the span of the request polled on this thread, if it is deferred and was not
    /// asked for yet. Returns whether the filters were asked (they then hold the span's
    /// verdict, not that of what was being dispatched).
    fn open_pending(&self) -> bool {
        let opened = POLLED.try_with(|polled| {
            let Ok(mut polled) = polled.try_borrow_mut() else {
                return false;
            };
            let Some(state) = polled.as_mut().filter(|s| !s.asked) else {
                return false;
            };
            state.asked = true;
            if CALLSITE.interest().is_never() || !self.inner.enabled(&METADATA) {
                return true;
            }
            let id = state
                .fields
                .with_values(|values| self.inner.new_span(&Attributes::new(&METADATA, values)));
            self.inner.enter(&id);
            state.span = Some(id);
            true
        });
        // No thread-local any more: the thread is ending, and polls no request.
        opened.unwrap_or(false)
    }
}

impl std::fmt::Debug for DeferredSpans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredSpans").finish_non_exhaustive()
    }
}

impl Subscriber for DeferredSpans {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        if span.is_contextual() && self.open_pending() {
            // The filters' state is this span's again (its verdict was given before).
            let _ = self.inner.enabled(span.metadata());
        }
        self.inner.new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.inner.record(span, values);
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.inner.record_follows_from(span, follows);
    }

    fn event_enabled(&self, event: &Event<'_>) -> bool {
        self.inner.event_enabled(event)
    }

    fn event(&self, event: &Event<'_>) {
        if event.is_contextual()
            && self.open_pending()
            && !(self.inner.enabled(event.metadata()) && self.inner.event_enabled(event))
        {
            return;
        }
        self.inner.event(event);
    }

    fn enter(&self, span: &Id) {
        self.inner.enter(span);
    }

    fn exit(&self, span: &Id) {
        self.inner.exit(span);
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.inner.clone_span(id)
    }

    fn try_close(&self, id: Id) -> bool {
        self.inner.try_close(id)
    }

    fn current_span(&self) -> Current {
        self.open_pending();
        self.inner.current_span()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use tracing::span::{Attributes, Id};
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// The text written by a `fmt` layer.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// What a layer was told: `new request`, `close request` (or of another span) and
    /// `event <message>` records, in order.
    #[derive(Clone, Default)]
    struct Told(Arc<Mutex<Vec<String>>>);

    impl<S> Layer<S> for Told
    where
        S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        fn on_new_span(
            &self,
            attrs: &Attributes<'_>,
            _: &Id,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0
                .lock()
                .unwrap()
                .push(format!("new {}", attrs.metadata().name()));
        }

        fn on_event(&self, event: &Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("event {}", event.metadata().target()));
        }

        fn on_close(&self, id: Id, cx: tracing_subscriber::layer::Context<'_, S>) {
            let name = cx.span(&id).map_or("?", |s| s.name());
            self.0.lock().unwrap().push(format!("close {name}"));
        }
    }

    impl Told {
        fn all(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    /// Pending once (waking itself), then ready.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn fields() -> RequestFields {
        let parent = TraceContext::parse("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01");
        let trace = TraceContext {
            trace_id: [0x0a; 16],
            span_id: [0xb7; 8],
            sampled: true,
        };
        RequestFields::new("r-1".into(), http::Method::GET, trace, parent.as_ref())
    }

    /// Serves one request: its span started under the current subscriber, `future` polled in
    /// it to its end, then the status recorded and the span dropped.
    fn serve(future: impl Future<Output = ()>) {
        let mut span = RequestSpan::start(fields());
        let mut future = pin!(future);
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        while span.poll_in(future.as_mut(), &mut cx).is_pending() {}
        span.record_status(200);
    }

    /// A request that writes two lines, one before its path is read and one after a pause.
    async fn talkative() {
        tracing::info!("before the path");
        record_model("list", "retrieve", "/a");
        YieldOnce(false).await;
        tracing::warn!(count = 2, "after a pause");
    }

    /// `f` run under a `fmt` subscriber (text, no time), deferred or not: the text written.
    fn logged(deferred: bool, f: impl FnOnce()) -> String {
        let lines = Lines::default();
        let logs = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_writer(lines.clone())
            .with_max_level(Level::INFO)
            .finish();
        match deferred {
            true => tracing::subscriber::with_default(DeferredSpans::new(logs), f),
            false => tracing::subscriber::with_default(logs, f),
        }
        lines.text()
    }

    #[test]
    fn a_deferred_request_writes_the_lines_an_open_one_writes() {
        let open = logged(false, || serve(talkative()));
        let deferred = logged(true, || serve(talkative()));
        assert_eq!(deferred, open);
        let span = "request{id=r-1 method=GET trace_id=0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a \
                    span_id=b7b7b7b7b7b7b7b7 parent_span_id=00f067aa0ba902b7";
        assert_eq!(
            open,
            format!(
                " INFO {span}}}: bahamut::request_span::tests: before the path\n \
                 WARN {span} identity=list operation=retrieve namespace=/a}}: \
                 bahamut::request_span::tests: after a pause count=2\n"
            )
        );
    }

    #[test]
    fn a_deferred_request_writes_the_json_lines_an_open_one_writes() {
        let run = |deferred: bool| {
            let lines = Lines::default();
            let logs = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .without_time()
                .with_writer(lines.clone())
                .finish();
            match deferred {
                true => tracing::subscriber::with_default(DeferredSpans::new(logs), || {
                    serve(talkative())
                }),
                false => tracing::subscriber::with_default(logs, || serve(talkative())),
            }
            lines.text()
        };
        let open = run(false);
        assert_eq!(run(true), open);
        let last: serde_json::Value = serde_json::from_str(open.lines().last().unwrap()).unwrap();
        assert_eq!(
            last["span"],
            serde_json::json!({
                "name": "request",
                "id": "r-1",
                "method": "GET",
                "trace_id": "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
                "span_id": "b7b7b7b7b7b7b7b7",
                "parent_span_id": "00f067aa0ba902b7",
                "identity": "list",
                "operation": "retrieve",
                "namespace": "/a",
            })
        );
    }

    #[test]
    fn a_deferred_request_that_writes_nothing_opens_no_span() {
        let told = Told::default();
        let subscriber = tracing_subscriber::registry().with(told.clone());
        tracing::subscriber::with_default(DeferredSpans::new(subscriber), || {
            serve(async {
                record_model("list", "retrieve", "/a");
                YieldOnce(false).await;
            })
        });
        assert_eq!(told.all(), Vec::<String>::new());

        // Opened at once, the span is there all the same.
        let told = Told::default();
        let subscriber = tracing_subscriber::registry().with(told.clone());
        tracing::subscriber::with_default(subscriber, || serve(async {}));
        assert_eq!(told.all(), ["new request", "close request"]);
    }

    #[test]
    fn each_layer_gets_the_event_its_own_filter_enabled() {
        // The logs keep `app` events only (so not the request span); the other layer keeps the
        // request span only. The span is opened in the middle of the event's dispatch, and
        // the event must still reach the logs and only them.
        let run = |deferred: bool| {
            let lines = Lines::default();
            let told = Told::default();
            let logs = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_writer(lines.clone())
                .with_filter("app=info".parse::<Targets>().unwrap());
            let spans = told
                .clone()
                .with_filter("bahamut=error".parse::<Targets>().unwrap());
            let subscriber = tracing_subscriber::registry().with(logs).with(spans);
            let request = || serve(async { tracing::info!(target: "app", "hello") });
            match deferred {
                true => tracing::subscriber::with_default(DeferredSpans::new(subscriber), request),
                false => tracing::subscriber::with_default(subscriber, request),
            }
            (lines.text(), told.all())
        };
        let open = run(false);
        assert_eq!(open.0, " INFO app: hello\n");
        assert_eq!(open.1, ["new request", "close request"]);
        assert_eq!(run(true), open);
    }

    #[test]
    fn a_span_opened_by_a_deferred_request_is_a_child_of_its_span() {
        let text = logged(true, || {
            serve(async {
                let child = tracing::info_span!("child", step = 1);
                let _entered = child.enter();
                tracing::info!("inside");
            })
        });
        assert!(
            text.contains("parent_span_id=00f067aa0ba902b7}:child{step=1}: bahamut::request_span::tests: inside\n"),
            "{text}"
        );
    }

    #[test]
    fn a_deferred_request_whose_poll_panics_leaves_its_span() {
        let text = logged(true, || {
            let mut span = RequestSpan::start(fields());
            let mut future = pin!(async {
                tracing::info!("about to fail");
                panic!("the request fails");
            });
            let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
            let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = span.poll_in(future.as_mut(), &mut cx);
            }));
            assert!(polled.is_err());
            tracing::info!("after the panic");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains("}: bahamut::request_span::tests: about to fail"),
            "{text}"
        );
        assert_eq!(
            lines[1],
            " INFO bahamut::request_span::tests: after the panic"
        );
    }

    #[test]
    fn a_deferred_request_dropped_before_its_end_closes_its_span() {
        let told = Told::default();
        let subscriber = tracing_subscriber::registry().with(told.clone());
        tracing::subscriber::with_default(DeferredSpans::new(subscriber), || {
            let mut span = RequestSpan::start(fields());
            let mut future = pin!(async {
                tracing::info!("started");
                std::future::pending::<()>().await;
            });
            let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
            assert!(span.poll_in(future.as_mut(), &mut cx).is_pending());
            // Left between polls: the line after it is not in the request.
            tracing::info!(target: "outside", "later");
            drop(span);
        });
        assert_eq!(
            told.all(),
            [
                "new request",
                "event bahamut::request_span::tests",
                "event outside",
                "close request"
            ]
        );
    }
}
