//! Convention traits: typed access to the attributes that storage and servers fill in, for
//! the models whose specs have them. regolithe generates an implementation when a model has
//! the attributes, and [`crate::Identifiable`] hands it out (`as_parented_mut`,
//! `as_timestamped_mut`), so that generic code sets them without knowing the model or going
//! through attribute names. The namespace is on `Identifiable` itself
//! ([`crate::Identifiable::namespace`]).

use time::OffsetDateTime;

/// A model with `parentID` and `parentType`: the object it was created under.
pub trait Parented {
    /// The parent's identifier (empty at the top).
    fn parent_id(&self) -> &str;
    /// The parent's identity name (empty at the top).
    fn parent_type(&self) -> &str;
    /// Records the parent.
    fn set_parent(&mut self, parent_id: &str, parent_type: &str);
}

/// A model with `createTime` and `updateTime`.
pub trait Timestamped {
    /// When the object was created.
    fn create_time(&self) -> Option<OffsetDateTime>;
    /// When the object was last changed.
    fn update_time(&self) -> Option<OffsetDateTime>;
    /// Sets the creation time.
    fn set_create_time(&mut self, time: Option<OffsetDateTime>);
    /// Sets the time of the last change.
    fn set_update_time(&mut self, time: Option<OffsetDateTime>);
}
