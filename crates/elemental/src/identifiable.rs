//! The traits a generated model implements.

use std::any::Any;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::conventions::{Parented, Timestamped};
use crate::{
    AttributeSpecification, AttributeValues, EncodingType, Error, Errors, Identity,
    IndexSpecification, Operation,
};

/// An object of the model, usable without knowing its concrete type (object safe).
pub trait Identifiable: AttributeValues + fmt::Debug + Send + Sync + 'static {
    /// The identity of the object's model.
    fn identity(&self) -> Identity;
    /// The object's identifier (empty before creation).
    fn id(&self) -> &str;
    /// Sets the object's identifier.
    fn set_id(&mut self, id: &str);
    /// The model version the object was generated from.
    fn version(&self) -> u32;
    /// The specifications of every attribute.
    fn attribute_specifications(&self) -> &'static [AttributeSpecification];
    /// Checks every rule of the specs and returns every violation at once.
    fn validate(&self) -> Result<(), Errors>;
    /// Encodes the object (all exposed attributes).
    fn encode(&self, encoding: EncodingType) -> Result<Vec<u8>, Error>;
    /// Clears the attributes marked `secret` so they never leave the server.
    fn blank_secrets(&mut self) {}
    /// The namespace the object lives in, for namespaced models.
    fn namespace(&self) -> Option<&str> {
        None
    }
    /// Sets the namespace, for namespaced models (a no-op otherwise).
    fn set_namespace(&mut self, _namespace: &str) {}
    /// The parent link, for models with `parentID` and `parentType`.
    fn as_parented(&self) -> Option<&dyn Parented> {
        None
    }
    /// The parent link to set, for models with `parentID` and `parentType`.
    fn as_parented_mut(&mut self) -> Option<&mut dyn Parented> {
        None
    }
    /// The times, for models with `createTime` and `updateTime`.
    fn as_timestamped(&self) -> Option<&dyn Timestamped> {
        None
    }
    /// The times to set, for models with `createTime` and `updateTime`.
    fn as_timestamped_mut(&mut self) -> Option<&mut dyn Timestamped> {
        None
    }
    /// The object as `Any`, to downcast to its concrete type.
    fn as_any(&self) -> &dyn Any;
    /// The storage indexes the specs ask for.
    fn indexes(&self) -> &'static [IndexSpecification] {
        &[]
    }

    /// The specification of one attribute.
    fn specification_for_attribute(&self, name: &str) -> Option<&'static AttributeSpecification> {
        self.attribute_specifications()
            .iter()
            .find(|s| s.name == name)
    }
}

/// The static side of a generated model: its identity known at compile time.
pub trait ModelIdentity {
    /// The identity of the model.
    const IDENTITY: Identity;
}

/// A concrete generated model: typed, default-constructible, (de)serializable, with its sparse
/// form (every attribute optional) for partial output (`X-Fields`) and `PATCH` bodies.
pub trait Model:
    Identifiable + ModelIdentity + Default + Clone + Serialize + DeserializeOwned
{
    /// The sparse type: a struct of `Option`s that serializes only the attributes it holds.
    type Sparse: Serialize + DeserializeOwned + Default + Clone + fmt::Debug + Send + Sync;

    /// The sparse form holding the given attributes (all exposed ones when `fields` is empty).
    fn to_sparse(&self, fields: &[String]) -> Self::Sparse;

    /// Copies every attribute set in `sparse` onto `self`.
    fn patch(&mut self, sparse: &Self::Sparse);

    /// The object encoded with its secret attributes blank, as [`Identifiable::blank_secrets`]
    /// leaves them; the object is as it was once this returns. Generated models take the
    /// secrets out for the encoding and put them back, without copying the object; by
    /// default, a blanked copy is encoded.
    fn encode_without_secrets(&mut self, encoding: EncodingType) -> Result<Vec<u8>, Error> {
        let mut copy = self.clone();
        copy.blank_secrets();
        crate::encode(encoding, &copy)
    }
}

/// Checks read-only and creation-only rules of `object` against the stored `previous` version.
///
/// - create: a read-only attribute set to something other than its zero or default value is an
///   error `Field x is read only. You cannot set its value.` (unless it equals `previous`);
/// - update and patch: a read-only attribute that changed gives `Field x is read only. You
///   cannot modify its value.`; a creation-only one `Field x can only be set during creation.
///   You cannot modify its value.`
///
/// Non-exposed and transient attributes are not checked. Every violation is reported.
pub fn validate_advanced_specification(
    object: &dyn Identifiable,
    previous: Option<&dyn Identifiable>,
    operation: Operation,
) -> Result<(), Errors> {
    let mut errors = Errors::new();
    for spec in object.attribute_specifications() {
        // Only protected attributes are compared: reading a value copies it (a list of a
        // million entries included).
        if !spec.exposed || spec.transient || !(spec.read_only || spec.creation_only) {
            continue;
        }
        let value = object.value_for_attribute(spec.name);
        let old = previous.and_then(|p| p.value_for_attribute(spec.name));
        let unchanged = previous.is_some() && value == old;
        match operation {
            Operation::Create if spec.read_only => {
                let is_default = value.as_ref().is_none_or(|v| v.is_zero())
                    || value == spec.default_value.map(|d| d.to_value());
                if !is_default && !unchanged {
                    errors.push(read_only_error(spec.name, "set"));
                }
            }
            Operation::Update | Operation::Patch if previous.is_some() && !unchanged => {
                if spec.creation_only {
                    errors.push(
                        Error::new(
                            "Creation Only Error",
                            format!(
                                "Field {} can only be set during creation. You cannot modify its value.",
                                spec.name
                            ),
                            "elemental",
                            422,
                        )
                        .with_attribute(spec.name),
                    );
                } else if spec.read_only {
                    errors.push(read_only_error(spec.name, "modify"));
                }
            }
            _ => {}
        }
    }
    errors.into_result()
}

/// `Field x is read only. You cannot <verb> its value.` (422, `Read Only Error`).
pub fn read_only_error(attribute: &str, verb: &str) -> Error {
    Error::new(
        "Read Only Error",
        format!("Field {attribute} is read only. You cannot {verb} its value."),
        "elemental",
        422,
    )
    .with_attribute(attribute)
}
