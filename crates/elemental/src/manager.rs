//! Model managers: look identities up by name, category or alias, and make objects.

use std::collections::HashMap;

use crate::{EncodingType, Error, Identifiable, Identity, Model, RelationshipsRegistry};

/// What the server needs to know about a model set (one per API version).
pub trait ModelManager: Send + Sync {
    /// The identity whose singular name is `name`.
    fn identity_from_name(&self, name: &str) -> Option<Identity>;
    /// The identity whose category (plural, URL segment) is `category`.
    fn identity_from_category(&self, category: &str) -> Option<Identity>;
    /// The identity one of whose aliases is `alias`.
    fn identity_from_alias(&self, alias: &str) -> Option<Identity>;
    /// Every identity of the model set, root included.
    fn all_identities(&self) -> &[Identity];
    /// The relationships registry of the model set.
    fn relationships(&self) -> &RelationshipsRegistry;
    /// A new object with default values.
    fn new_identifiable(&self, identity: &Identity) -> Option<Box<dyn Identifiable>>;
    /// Decodes an object of the given identity.
    fn decode_identifiable(
        &self,
        identity: &Identity,
        encoding: EncodingType,
        data: &[u8],
    ) -> Result<Box<dyn Identifiable>, Error>;
    /// The version of the model set.
    fn version(&self) -> u32;

    /// The identity named by `s` as a name, a category or an alias, in that order.
    fn identity_from_any(&self, s: &str) -> Option<Identity> {
        self.identity_from_name(s)
            .or_else(|| self.identity_from_category(s))
            .or_else(|| self.identity_from_alias(s))
    }

    /// The aliases of an identity.
    fn aliases(&self, identity: &Identity) -> Vec<&'static str>;
}

type NewFn = fn() -> Box<dyn Identifiable>;
type DecodeFn = fn(EncodingType, &[u8]) -> Result<Box<dyn Identifiable>, Error>;

struct Factory {
    new: NewFn,
    decode: DecodeFn,
}

/// A ready [`ModelManager`] built from a list of models: what generated code registers into.
///
/// ```
/// use elemental::{Identity, ModelRegistry, ModelManager, RelationshipsRegistry};
/// let registry = ModelRegistry::new(1, RelationshipsRegistry::new());
/// assert_eq!(registry.identity_from_name("root"), Some(Identity::ROOT));
/// ```
pub struct ModelRegistry {
    version: u32,
    identities: Vec<Identity>,
    by_name: HashMap<&'static str, Identity>,
    by_category: HashMap<&'static str, Identity>,
    by_alias: HashMap<&'static str, Identity>,
    factories: HashMap<&'static str, Factory>,
    relationships: RelationshipsRegistry,
}

impl ModelRegistry {
    /// An registry holding only the root identity.
    pub fn new(version: u32, relationships: RelationshipsRegistry) -> Self {
        let mut registry = Self {
            version,
            identities: Vec::new(),
            by_name: HashMap::new(),
            by_category: HashMap::new(),
            by_alias: HashMap::new(),
            factories: HashMap::new(),
            relationships,
        };
        registry.add_identity(Identity::ROOT, &[]);
        registry
    }

    /// Adds an identity that has no concrete model (such as a custom root).
    pub fn add_identity(&mut self, identity: Identity, aliases: &[&'static str]) -> &mut Self {
        if !self.by_name.contains_key(identity.name) {
            self.identities.push(identity);
        }
        self.by_name.insert(identity.name, identity);
        self.by_category.insert(identity.category, identity);
        for alias in aliases {
            self.by_alias.insert(alias, identity);
        }
        self
    }

    /// Registers a model with its aliases.
    pub fn register<T: Model>(&mut self, aliases: &[&'static str]) -> &mut Self {
        self.add_identity(T::IDENTITY, aliases);
        self.factories.insert(
            T::IDENTITY.name,
            Factory {
                new: || Box::new(T::default()),
                decode: |encoding, data| {
                    crate::decode::<T>(encoding, data).map(|o| Box::new(o) as Box<dyn Identifiable>)
                },
            },
        );
        self
    }
}

impl ModelManager for ModelRegistry {
    fn identity_from_name(&self, name: &str) -> Option<Identity> {
        self.by_name.get(name).copied()
    }

    fn identity_from_category(&self, category: &str) -> Option<Identity> {
        self.by_category.get(category).copied()
    }

    fn identity_from_alias(&self, alias: &str) -> Option<Identity> {
        self.by_alias.get(alias).copied()
    }

    fn all_identities(&self) -> &[Identity] {
        &self.identities
    }

    fn relationships(&self) -> &RelationshipsRegistry {
        &self.relationships
    }

    fn new_identifiable(&self, identity: &Identity) -> Option<Box<dyn Identifiable>> {
        self.factories.get(identity.name).map(|f| (f.new)())
    }

    fn decode_identifiable(
        &self,
        identity: &Identity,
        encoding: EncodingType,
        data: &[u8],
    ) -> Result<Box<dyn Identifiable>, Error> {
        let factory = self
            .factories
            .get(identity.name)
            .ok_or_else(|| Error::bad_request(format!("Unknown identity '{}'", identity.name)))?;
        (factory.decode)(encoding, data)
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn aliases(&self, identity: &Identity) -> Vec<&'static str> {
        let mut aliases: Vec<_> = self
            .by_alias
            .iter()
            .filter(|(_, i)| *i == identity)
            .map(|(a, _)| *a)
            .collect();
        aliases.sort_unstable();
        aliases
    }
}
