//! Model managers: look identities up by name, category or alias, and make objects.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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
    by_name: NameMap<Identity>,
    by_category: NameMap<Identity>,
    by_alias: NameMap<Identity>,
    factories: NameMap<Factory>,
    relationships: RelationshipsRegistry,
}

/// A map keyed by the model set's own names (a request looks up its path's category in one).
/// Only for keys fixed at start-up: see [`NameHasher`].
pub type NameMap<V> = HashMap<&'static str, V, BuildHasherDefault<NameHasher>>;

/// FNV-1a, a few instructions per byte. The maps' keys are the model set's names, fixed at
/// start-up: a client's text is only looked up, never inserted, so the collision resistance
/// of the default hasher (SipHash, about 150 instructions for a short name) buys nothing here.
/// Not for a map that a client's text is inserted into.
pub struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl ModelRegistry {
    /// An registry holding only the root identity.
    pub fn new(version: u32, relationships: RelationshipsRegistry) -> Self {
        let mut registry = Self {
            version,
            identities: Vec::new(),
            by_name: NameMap::default(),
            by_category: NameMap::default(),
            by_alias: NameMap::default(),
            factories: NameMap::default(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hash_as_fnv_1a() {
        // The published 64-bit FNV-1a test vectors.
        let hash = |bytes: &[u8]| {
            let mut hasher = NameHasher::default();
            hasher.write(bytes);
            hasher.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
