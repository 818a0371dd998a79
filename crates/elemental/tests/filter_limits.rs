//! Bounded filters: whatever mix of `and`, `or`, parentheses and lists a client sends, the
//! parser refuses trees deeper than [`MAX_DEPTH`] and filters past their size limits, and every
//! consumer (matcher, printer, re-parse, drop) handles the deepest accepted filter on a 2 MiB
//! stack (a tokio worker's default).

mod common;

use common::List;
use elemental::filter::{Filter, FilterLimits, MAX_DEPTH, MAX_PARENTHESES, Matcher, ParseOptions};

/// `a == 1 and a == 1 or a == 1 and ...` with `switches` changes between `and` and `or`.
fn alternating(switches: usize) -> String {
    let mut text = String::from("a == 1");
    for i in 0..=switches {
        text.push_str(if i % 2 == 0 {
            " and a == 1"
        } else {
            " or a == 1"
        });
    }
    text
}

/// `a in [[[...[1]...]]]` with `lists` nested lists.
fn nested_lists(lists: usize) -> String {
    format!("a in {}1{}", "[".repeat(lists), "]".repeat(lists))
}

/// `(((a == 1 or b == 2) and c == 3) and c == 3) ...`: each group nests one level deeper.
fn nested_groups(groups: usize) -> String {
    let mut text = String::from("a == 1 or b == 2");
    for _ in 1..groups {
        text = format!("({text}) and c == 3");
    }
    text
}

fn parse_error(input: &str) -> String {
    Filter::parse(input).unwrap_err().to_string()
}

/// Runs `f` on a thread with a 2 MiB stack; a stack overflow aborts the test binary.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

/// Every consumer on one filter: match, print, parse back to the same tree, drop.
fn consume(text: String) {
    let filter = Filter::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let matcher = Matcher::new(&filter).unwrap();
    let list = List::default();
    let _ = matcher.matches(&list);
    let printed = filter.to_string();
    let back = Filter::parse(&printed).unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(back, filter);
    assert_eq!(back.to_string(), printed);
    drop((filter, back, matcher));
}

#[test]
fn alternations_are_bounded_by_the_tree_depth() {
    // `a and b` is 2 levels deep; every switch adds one.
    let deepest = MAX_DEPTH - 2;
    assert!(Filter::parse(&alternating(deepest)).is_ok());
    assert_eq!(
        parse_error(&alternating(deepest + 1)),
        "expression too deeply nested (at most 32 levels)"
    );
    // The filter of the report: 3,000 switches in 25 KB, refused without recursing.
    let report = alternating(3_000);
    assert!(report.len() > 25_000);
    on_small_stack(move || {
        assert_eq!(
            parse_error(&report),
            "expression too deeply nested (at most 32 levels)"
        );
    });
}

#[test]
fn lists_and_groups_are_bounded_too() {
    assert!(Filter::parse(&nested_lists(MAX_DEPTH - 1)).is_ok());
    assert_eq!(
        parse_error(&nested_lists(MAX_DEPTH)),
        "expression too deeply nested (at most 32 levels)"
    );
    assert!(Filter::parse(&nested_groups(MAX_DEPTH - 1)).is_ok());
    assert_eq!(
        parse_error(&nested_groups(MAX_DEPTH)),
        "expression too deeply nested (at most 32 levels)"
    );
    let parens = |n: usize| format!("{}a == 1{}", "(".repeat(n), ")".repeat(n));
    assert!(Filter::parse(&parens(MAX_PARENTHESES)).is_ok());
    assert_eq!(
        parse_error(&parens(MAX_PARENTHESES + 1)),
        "expression too deeply nested (at most 64 parentheses)"
    );
}

#[test]
fn every_consumer_handles_the_deepest_filters_on_a_small_stack() {
    for text in [
        alternating(MAX_DEPTH - 2),
        nested_lists(MAX_DEPTH - 1),
        nested_groups(MAX_DEPTH - 1),
        format!("({})", alternating(MAX_DEPTH - 2)),
    ] {
        on_small_stack(move || consume(text));
    }
}

#[test]
fn size_limits_have_clear_messages() {
    let limits = FilterLimits::default();
    assert_eq!(
        limits,
        FilterLimits {
            max_bytes: 65_536,
            max_comparisons: 1_000,
            max_values: 10_000,
        }
    );
    let terms = |n: usize| vec!["a == 1"; n].join(" and ");
    assert!(Filter::parse(&terms(1_000)).is_ok());
    assert_eq!(
        parse_error(&terms(1_001)),
        "filter too large: more than 1000 comparisons"
    );
    let values = |n: usize| {
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("a in [{}]", items.join(","))
    };
    assert!(Filter::parse(&values(9_999)).is_ok());
    assert_eq!(
        parse_error(&values(10_000)),
        "filter too large: more than 10000 values"
    );
    let long = format!("a == \"{}\"", "x".repeat(70_000));
    assert_eq!(
        parse_error(&long),
        "filter too long: 70007 bytes (at most 65536)"
    );
    let tight = ParseOptions {
        limits: FilterLimits {
            max_comparisons: 2,
            ..FilterLimits::default()
        },
        ..ParseOptions::default()
    };
    assert_eq!(
        Filter::parse_with("a == 1 or b == 2 or c == 3", &tight)
            .unwrap_err()
            .to_string(),
        "filter too large: more than 2 comparisons"
    );
}

#[test]
fn dates_outside_rfc3339_years_are_refused() {
    assert_eq!(
        parse_error("a == date(-0001-01-01)"),
        "unable to parse date format -0001-01-01"
    );
    let f = Filter::parse("a == date(\"0000-01-01T00:00:00Z\")").unwrap();
    assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
}

#[test]
fn a_printing_longer_than_the_length_limit_parses_back_without_it() {
    // 1,000 comparisons of bare words: 64,996 bytes in, 68,998 printed (quotes, parentheses).
    let word = "w".repeat(56);
    let text = vec![format!("a == {word}"); 1_000].join(" or ");
    assert_eq!(text.len(), 64_996);
    let filter = Filter::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let printed = filter.to_string();
    assert_eq!(printed.len(), 68_998);
    assert!(Filter::parse(&printed).is_err(), "over the length limit");
    let without_length_limit = ParseOptions {
        limits: FilterLimits {
            max_bytes: usize::MAX,
            ..FilterLimits::default()
        },
        ..ParseOptions::default()
    };
    assert_eq!(
        Filter::parse_with(&printed, &without_length_limit),
        Ok(filter)
    );
}
