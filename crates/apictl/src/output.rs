//! Printing objects: an aligned table, JSON, YAML or NDJSON.

use std::io::Write;

use anyhow::Context;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::{Map, Value};

/// How objects are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned table of some columns.
    Table,
    /// A JSON document (an object, or an array of them).
    Json,
    /// A YAML document.
    Yaml,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    /// The names on the command line.
    pub const NAMES: [&'static str; 4] = ["table", "json", "yaml", "ndjson"];

    /// The format of a name of [`Format::NAMES`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "table" => Some(Self::Table),
            "json" => Some(Self::Json),
            "yaml" => Some(Self::Yaml),
            "ndjson" => Some(Self::Ndjson),
            _ => None,
        }
    }
}

/// Prints `objects` (`single`: one object, not a list) in `format`. `columns` are the
/// attributes a table shows; with `projected`, JSON, YAML and NDJSON keep only them too.
pub fn print(
    out: &mut dyn Write,
    format: Format,
    objects: &[Map<String, Value>],
    columns: &[String],
    projected: bool,
    single: bool,
) -> anyhow::Result<()> {
    let objects: Vec<Ordered> = objects
        .iter()
        .map(|o| match projected {
            true => project(o, columns),
            false => Ordered(o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        })
        .collect();
    match format {
        Format::Table => writeln!(out, "{}", table(&objects, columns))?,
        Format::Json => {
            let text = match (single, objects.first()) {
                (true, Some(object)) => serde_json::to_string_pretty(object)?,
                _ => serde_json::to_string_pretty(&objects)?,
            };
            writeln!(out, "{text}")?;
        }
        Format::Yaml => {
            let text = match (single, objects.first()) {
                (true, Some(object)) => serde_norway::to_string(object),
                _ => serde_norway::to_string(&objects),
            }
            .context("cannot write YAML")?;
            write!(out, "{text}")?;
        }
        Format::Ndjson => {
            for object in &objects {
                writeln!(out, "{}", serde_json::to_string(object)?)?;
            }
        }
    }
    Ok(())
}

/// An object whose attributes print in a given order.
struct Ordered(Vec<(String, Value)>);

impl Ordered {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Only the attributes of `columns`, in their order.
fn project(object: &Map<String, Value>, columns: &[String]) -> Ordered {
    Ordered(
        columns
            .iter()
            .filter_map(|c| object.get(c).map(|v| (c.clone(), v.clone())))
            .collect(),
    )
}

fn table(objects: &[Ordered], columns: &[String]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns);
    for object in objects {
        table.add_row(columns.iter().map(|c| cell(object.get(c))));
    }
    table
}

/// A value as a table shows it: strings bare, lists joined, other values as JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| cell(Some(item)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Vec<Map<String, Value>> {
        serde_json::from_str(
            r#"[{"ID":"a1","name":"web","entries":["10.0.0.0/8","::/0"],"n":3},
                {"ID":"b2","name":"db","entries":[]}]"#,
        )
        .unwrap()
    }

    fn printed(format: Format, projected: bool) -> String {
        let mut out = Vec::new();
        let columns = ["name".to_string(), "entries".to_string()];
        print(&mut out, format, &objects(), &columns, projected, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_format_prints_exactly() {
        assert_eq!(
            printed(Format::Table, false),
            "┌──────┬──────────────────┐\n\
             │ name ┆ entries          │\n\
             ╞══════╪══════════════════╡\n\
             │ web  ┆ 10.0.0.0/8, ::/0 │\n\
             │ db   ┆                  │\n\
             └──────┴──────────────────┘\n"
        );
        assert_eq!(
            printed(Format::Ndjson, true),
            "{\"name\":\"web\",\"entries\":[\"10.0.0.0/8\",\"::/0\"]}\n{\"name\":\"db\",\"entries\":[]}\n"
        );
        assert_eq!(
            printed(Format::Yaml, true),
            "- name: web\n  entries:\n  - 10.0.0.0/8\n  - ::/0\n- name: db\n  entries: []\n"
        );
    }
}
