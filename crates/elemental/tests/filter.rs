//! The filter language: exact parser messages, canonical printing, and the matcher on every
//! operator over strings, numbers, booleans, times and lists, with missing attributes.

mod common;

use common::List;
use elemental::filter::{Comparator, Filter, FilterValue, Matcher};
use elemental::{AttributeValues, GoDuration};
use time::macros::datetime;

fn printed(input: &str) -> String {
    Filter::parse(input).unwrap().to_string()
}

fn parse_error(input: &str) -> String {
    Filter::parse(input).unwrap_err().to_string()
}

#[test]
fn reference_error_messages() {
    assert_eq!(
        parse_error("name == hello world"),
        "missing parentheses to protect value: hello world"
    );
    assert_eq!(parse_error("name == \"hello"), "missing quote after hello");
    assert_eq!(
        parse_error("name = hello"),
        "invalid operator. found = instead of (==, !=, <, <=, >, >=, contains, in, matches, exists)"
    );
    assert_eq!(
        parse_error("$key == 1"),
        "could not start a parameter with $. Found $key"
    );
    assert_eq!(
        parse_error("or a == 1"),
        "invalid start of expression. found or"
    );
    assert_eq!(
        parse_error("name == hello\"x\""),
        "missing quote before the value: hello"
    );
    assert_eq!(
        parse_error("a == 1 b == 2"),
        "invalid keyword after a == 1. found b"
    );
    assert_eq!(
        parse_error("a not == 1"),
        "invalid usage of operator NOT before =="
    );
    assert_eq!(parse_error("a == [1, 2"), "invalid end of array. found EOF");
    assert_eq!(parse_error("a == )"), "invalid value. found )");
    assert_eq!(parse_error("a =="), "invalid value. found EOF");
    assert_eq!(parse_error(""), "invalid start of expression. found EOF");
    assert_eq!(
        parse_error("a == date(\"tomorrow\")"),
        "unable to parse date format tomorrow"
    );
    assert_eq!(
        parse_error("a > now(\"-1y\")"),
        "unable to parse duration -1y: time: unknown unit \"y\" in duration \"-1y\""
    );
}

#[test]
fn unmatched_parentheses_are_errors() {
    // fix: the reference silently drops these.
    assert_eq!(parse_error("(a == 1"), "missing closing parenthesis");
    assert_eq!(parse_error("a == 1)"), "unmatched closing parenthesis");
    assert_eq!(
        parse_error("(a == 1) and b == 2)"),
        "unmatched closing parenthesis"
    );
    assert_eq!(parse_error("()"), "invalid start of expression. found )");
    assert_eq!(
        parse_error("a == 1 and"),
        "invalid start of expression. found EOF"
    );
    assert_eq!(
        parse_error(&"(".repeat(100)),
        "expression too deeply nested (at most 64 parentheses)"
    );
}

#[test]
fn canonical_printing() {
    assert_eq!(printed("a == 1 and b == 2"), "((a == 1) and (b == 2))");
    assert_eq!(printed("name == hello"), r#"name == "hello""#);
    assert_eq!(printed("a == 1"), "a == 1");
    assert_eq!(printed("(a == 1)"), "a == 1");
    assert_eq!(
        printed("a == 1.5 and b == true and c exists"),
        "((a == 1.5) and (b == true) and (c exists))"
    );
    assert_eq!(printed("a not exists"), "a not exists");
    assert_eq!(printed("a notexists"), "a not exists");
    assert_eq!(
        printed("tags not contains [x, 'y', 3]"),
        r#"tags not contains ["x", "y", 3]"#
    );
    assert_eq!(printed("a NOT IN [1]"), "a not in [1]");
    assert_eq!(
        printed("date > date(\"2018-04-26 23:50\")"),
        r#"date > date("2018-04-26T23:50:00Z")"#
    );
    assert_eq!(printed("date > now(\"-1h\")"), r#"date > now("-1h0m0s")"#);
    assert_eq!(printed("date > now()"), "date > now()");
    assert_eq!(
        printed(r#""my key" == "say \"hi\"""#),
        r#""my key" == "say \"hi\"""#
    );
    assert_eq!(printed("a==1"), "a == 1");
}

#[test]
fn and_or_have_equal_precedence_left_to_right() {
    assert_eq!(
        printed("a == 1 and b == 2 or c == 3"),
        "((((a == 1) and (b == 2))) or (c == 3))"
    );
    assert_eq!(
        printed("a == 1 or b == 2 and c == 3"),
        "((((a == 1) or (b == 2))) and (c == 3))"
    );
    assert_eq!(
        printed("a == 1 and (b == 2 or c == 3)"),
        "((a == 1) and (((b == 2) or (c == 3))))"
    );
}

#[test]
fn values_are_typed() {
    let Filter::Comparison(c) =
        Filter::parse("a in [1, 1.5, true, x, \"y\", date(\"2020-01-02\"), now(\"1m\")]").unwrap()
    else {
        panic!("not a comparison");
    };
    assert_eq!(c.comparator, Comparator::In);
    assert_eq!(
        c.value,
        Some(FilterValue::List(vec![
            FilterValue::Int(1),
            FilterValue::Float(1.5),
            FilterValue::Bool(true),
            FilterValue::String("x".into()),
            FilterValue::String("y".into()),
            FilterValue::Date(datetime!(2020-01-02 0:00 UTC)),
            FilterValue::Now(GoDuration::from_nanos(60_000_000_000)),
        ]))
    );
}

#[test]
fn push_restriction() {
    use elemental::filter::ParseOptions;
    let options = ParseOptions {
        allowed_comparators: Some(&Comparator::PUSH),
        ..ParseOptions::default()
    };
    assert!(Filter::parse_with("a == 1 and b matches x and c not exists", &options).is_ok());
    assert_eq!(
        Filter::parse_with("a contains 1", &options)
            .unwrap_err()
            .to_string(),
        "unsupported comparator: contains"
    );
}

fn groceries() -> List {
    List {
        id: "l1".into(),
        name: "groceries".into(),
        description: "weekly 100% shop".into(),
        count: 3,
        ratio: 0.5,
        archived: true,
        date: Some(datetime!(2020-06-01 12:00 UTC)),
        slice: vec!["a".into(), "b".into()],
        ..List::default()
    }
}

fn check(object: &impl AttributeValues, filter: &str, expected: bool) {
    let f = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert_eq!(
        Matcher::new(&f).unwrap().matches(object),
        expected,
        "{filter}"
    );
}

#[test]
fn equality_on_every_type() {
    let l = groceries();
    for (filter, expected) in [
        ("name == groceries", true),
        ("name == chores", false),
        ("name != chores", true),
        ("count == 3", true),
        ("count == 3.0", true),
        ("count == \"3\"", true),
        ("ratio == 0.5", true),
        ("archived == true", true),
        ("archived != false", true),
        ("date == date(\"2020-06-01 12:00\")", true),
        ("date == \"2020-06-01T12:00:00Z\"", true),
        ("slice == a", true),
        ("slice == c", false),
        ("slice == [a, b]", true),
        ("slice == [b, a]", false),
        ("slice != c", true),
        ("NAME == groceries", false),
    ] {
        check(&l, filter, expected);
    }
    let numeric_name = List {
        name: "123".into(),
        ..List::default()
    };
    check(&numeric_name, "name == 123", true);
}

#[test]
fn ordering_on_every_type() {
    let l = groceries();
    for (filter, expected) in [
        ("count > 2", true),
        ("count > 3", false),
        ("count >= 3", true),
        ("count < 3", false),
        ("count <= 3", true),
        ("ratio < 1", true),
        ("ratio > 0.25", true),
        ("name > apples", true),
        ("name < apples", false),
        ("date > date(\"2020-01-01\")", true),
        ("date < now()", true),
        ("date > now(\"-1h\")", false),
        ("slice > a", true),
        ("slice > b", false),
        ("archived > false", true),
    ] {
        check(&l, filter, expected);
    }
}

#[test]
fn in_contains_matches_exists() {
    let l = groceries();
    for (filter, expected) in [
        ("name in [chores, groceries]", true),
        ("name in [chores]", false),
        ("name not in [chores]", true),
        ("count in [1, 2, 3]", true),
        ("slice in [z, b]", true),
        ("slice not in [z]", true),
        ("slice contains a", true),
        ("slice contains [z, b]", true),
        ("slice contains z", false),
        ("slice not contains z", true),
        ("description contains \"100%\"", true),
        ("description contains \"_\"", false),
        ("description not contains shop", false),
        ("name matches \"^gro\"", true),
        ("name matches [\"^x\", \"ies$\"]", true),
        ("name matches \"^x\"", false),
        ("slice matches \"^b$\"", true),
        ("count matches \"3\"", false),
        ("name exists", true),
        ("name not exists", false),
        ("date exists", true),
    ] {
        check(&l, filter, expected);
    }
}

#[test]
fn missing_and_null_attributes() {
    let empty = List::default();
    for (filter, expected) in [
        ("nope exists", false),
        ("nope not exists", true),
        ("nope == x", false),
        ("nope != x", true),
        ("nope in [x]", false),
        ("nope not in [x]", true),
        ("nope contains x", false),
        ("nope not contains x", true),
        ("nope matches x", false),
        ("nope > 1", false),
        ("date exists", false),
        ("date not exists", true),
        ("date < now()", false),
        ("slice contains a", false),
        ("slice == []", true),
    ] {
        check(&empty, filter, expected);
    }
}

#[test]
fn combinations() {
    let l = groceries();
    check(&l, "name == groceries and count > 5", false);
    check(&l, "name == groceries or count > 5", true);
    check(
        &l,
        "(name == chores or count == 3) and archived == true",
        true,
    );
    check(
        &l,
        "name == chores and count == 3 or archived == true",
        true,
    );
}

#[test]
fn matcher_works_on_json_objects() {
    let entity: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"name":"x","tags":["a=b"],"n":2,"t":"2020-01-01T00:00:00Z"}"#)
            .unwrap();
    check(
        &entity,
        "name == x and tags contains \"a=b\" and n >= 2",
        true,
    );
    check(&entity, "t > date(\"2019-12-31\")", true);
}

#[test]
fn invalid_regex_is_reported_when_compiling() {
    let f = Filter::parse("name matches \"(\"").unwrap();
    let e = Matcher::new(&f).unwrap_err().to_string();
    assert!(e.starts_with("invalid regular expression (: "), "{e}");
}
