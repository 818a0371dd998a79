//! Loading a spec set directory: reading every file, merging abstracts, flattening versions.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::ini::{Ini, parse_ini};
use crate::problem::{Problem, Problems};
use crate::spec::{
    ApiInfo, AttributeSpec, ModelSpec, ParameterMapping, RelationSpec, SpecFile, TypeMapping,
    ValidationMapping,
};

/// One model of the set, with its abstracts merged and its attributes for the API version,
/// sorted by name.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The file it was read from (`list.spec`).
    pub file: String,
    /// The model section.
    pub model: ModelSpec,
    /// The attributes, sorted by name.
    pub attributes: Vec<AttributeSpec>,
    /// The children.
    pub relations: Vec<RelationSpec>,
}

/// A loaded spec set.
#[derive(Debug, Clone)]
pub struct SpecSet {
    /// The directory it was read from.
    pub dir: PathBuf,
    /// `_api.info`.
    pub info: ApiInfo,
    /// `regolithe.ini`.
    pub ini: Ini,
    /// `_type.mapping`.
    pub type_mapping: TypeMapping,
    /// `_validation.mapping`.
    pub validation_mapping: ValidationMapping,
    /// `_parameter.mapping`.
    pub parameter_mapping: ParameterMapping,
    /// The models, sorted by rest name.
    pub specs: Vec<Spec>,
}

impl SpecSet {
    /// The model with that rest name.
    pub fn spec(&self, rest_name: &str) -> Option<&Spec> {
        self.specs.iter().find(|s| s.model.rest_name == rest_name)
    }

    /// The root model.
    pub fn root(&self) -> Option<&Spec> {
        self.specs.iter().find(|s| s.model.root)
    }
}

fn read_yaml<T: DeserializeOwned + Default>(
    dir: &Path,
    name: &str,
    required: bool,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(text) if text.trim().is_empty() => Some(T::default()),
        Ok(text) => match serde_norway::from_str(&text) {
            Ok(value) => Some(value),
            Err(e) => {
                problems.push(Problem::new(name, e.to_string()));
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Some(T::default()),
        Err(e) => {
            problems.push(Problem::new(name, format!("cannot read: {e}")));
            None
        }
    }
}

/// Reads a spec set directory. Every problem found is reported, not only the first.
pub fn load(dir: impl AsRef<Path>) -> Result<SpecSet, Problems> {
    let dir = dir.as_ref();
    let mut problems = Vec::new();
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => {
            return Err(Problems(vec![Problem::new(
                dir.display().to_string(),
                format!("cannot read the spec directory: {e}"),
            )]));
        }
    };
    names.sort();

    let info: Option<ApiInfo> = read_yaml(dir, "_api.info", true, &mut problems);
    let type_mapping = read_yaml(dir, "_type.mapping", false, &mut problems).unwrap_or_default();
    let validation_mapping =
        read_yaml(dir, "_validation.mapping", false, &mut problems).unwrap_or_default();
    let parameter_mapping =
        read_yaml(dir, "_parameter.mapping", false, &mut problems).unwrap_or_default();
    let ini = match fs::read_to_string(dir.join("regolithe.ini")) {
        Ok(text) => parse_ini(&text).unwrap_or_else(|(line, message)| {
            problems.push(Problem::new(format!("regolithe.ini: line {line}"), message));
            Ini::new()
        }),
        Err(_) => Ini::new(),
    };

    let mut files: Vec<(String, SpecFile)> = Vec::new();
    for name in names
        .iter()
        .filter(|n| n.ends_with(".spec") || (n.starts_with('@') && n.ends_with(".abs")))
    {
        if let Some(file) = read_yaml::<SpecFile>(dir, name, true, &mut problems) {
            files.push((name.clone(), file));
        }
    }
    let version = info.as_ref().map_or(1, |i| i.version);
    let specs = assemble(&files, version, &mut problems);

    match info {
        Some(info) if problems.is_empty() => Ok(SpecSet {
            dir: dir.to_path_buf(),
            info,
            ini,
            type_mapping,
            validation_mapping,
            parameter_mapping,
            specs,
        }),
        _ => Err(Problems(problems)),
    }
}

/// Merges abstracts into models and flattens attribute versions up to `version`.
fn assemble(files: &[(String, SpecFile)], version: u32, problems: &mut Vec<Problem>) -> Vec<Spec> {
    let mut specs = Vec::new();
    for (name, file) in files.iter().filter(|(n, _)| n.ends_with(".spec")) {
        let Some(model) = file.model.clone() else {
            problems.push(Problem::new(name.as_str(), "missing 'model' section"));
            continue;
        };
        let mut attributes = flatten(name, file, version, problems);
        let mut relations = file.relations.clone();
        for abstract_name in &model.extends {
            let abs_file = format!("{abstract_name}.abs");
            match files.iter().find(|(n, _)| *n == abs_file) {
                Some((_, abs)) => {
                    attributes.extend(flatten(&abs_file, abs, version, problems));
                    relations.extend(abs.relations.iter().cloned());
                }
                None => problems.push(Problem::new(
                    name.as_str(),
                    format!("extends unknown abstract '{abstract_name}'"),
                )),
            }
        }
        attributes.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in attributes.windows(2) {
            if pair[0].name == pair[1].name {
                problems.push(Problem::new(
                    format!("{name}: attribute '{}'", pair[0].name),
                    "defined more than once (in the spec or its abstracts)",
                ));
            }
        }
        specs.push(Spec {
            file: name.clone(),
            model,
            attributes,
            relations,
        });
    }
    specs.sort_by(|a, b| a.model.rest_name.cmp(&b.model.rest_name));
    specs
}

fn flatten(
    name: &str,
    file: &SpecFile,
    version: u32,
    problems: &mut Vec<Problem>,
) -> Vec<AttributeSpec> {
    let mut out = Vec::new();
    for (key, attributes) in &file.attributes {
        match key.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()) {
            Some(v) if v >= 1 && v <= version => out.extend(attributes.iter().cloned()),
            Some(v) if v >= 1 => {}
            _ => problems.push(Problem::new(
                format!("{name}: attributes"),
                format!("invalid version key '{key}' (expected v1, v2, ...)"),
            )),
        }
    }
    out
}
