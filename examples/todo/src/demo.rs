//! The demo server of the reference session: the todo model served from memory.
//!
//! Create assigns a fresh 24-hex object id; a missing id answers 404
//! `Object with ID '<id>' not found`. Lists serve retrieve-many, retrieve, create, update and
//! delete (no patch, no info, as in the reference); tasks and users the same, children of lists
//! where the model says so. Each object keeps its JSON form once a list or a retrieve has served
//! it to a JSON client, so the next lists join stored bytes and the next retrieves send them,
//! instead of encoding the objects again; msgpack and `X-Fields` clients get the objects.
//! Creates and updates of JSON clients encode the object once as they store it, and answer
//! (and send the event) with those bytes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bahamut::{
    Encoded, Errors, Options, Page, Processor, ProcessorContext, Retrieved, Server, ServerError,
};
use elemental::{Error, Identity, Model};

use crate::model::{List, Task, User, manager};

/// The object ids of the storage-backed processors (MongoDB style), also used here.
pub use crud::ObjectIds;

/// An in-memory processor for one model, objects in id (creation) order.
pub struct MemoryProcessor<T> {
    objects: Mutex<BTreeMap<String, Stored<T>>>,
    ids: Arc<ObjectIds>,
    service: String,
}

/// One stored object and its JSON form, encoded the first time a list serves it.
struct Stored<T> {
    object: T,
    json: OnceLock<Encoded<T>>,
}

impl<T: Model> Stored<T> {
    fn new(object: T) -> Self {
        Self {
            object,
            json: OnceLock::new(),
        }
    }

    fn encoded(&self) -> Result<Encoded<T>, Error> {
        if let Some(json) = self.json.get() {
            return Ok(json.clone());
        }
        let json = Encoded::new(&self.object)?;
        Ok(self.json.get_or_init(|| json).clone())
    }

    /// The answer of a retrieve: the JSON form when the client takes it as stored, else a
    /// copy of the object.
    fn answer(&self, ctx: &ProcessorContext<T>) -> Result<Retrieved<T>, Error> {
        match ctx.sends_json_as_stored() {
            true => Ok(self.encoded()?.into()),
            false => Ok(Retrieved::Object(self.object.clone())),
        }
    }

    /// A written object and the answer of the write. A client that takes the JSON form as
    /// stored gets the bytes encoded here once, kept for the next reads (no copy of the
    /// object is made); the others get a copy of the object.
    fn written(mut object: T, ctx: &ProcessorContext<T>) -> Result<(Self, Retrieved<T>), Error> {
        if !ctx.sends_json_as_stored() {
            let answer = Retrieved::Object(object.clone());
            return Ok((Self::new(object), answer));
        }
        let json = Encoded::from_mut(&mut object)?;
        let stored = Self {
            object,
            json: OnceLock::from(json.clone()),
        };
        Ok((stored, json.into()))
    }
}

impl<T: Model> MemoryProcessor<T> {
    /// An empty store.
    pub fn new(ids: Arc<ObjectIds>, service: &str) -> Self {
        Self {
            objects: Mutex::new(BTreeMap::new()),
            ids,
            service: service.to_string(),
        }
    }

    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, Stored<T>>> {
        self.objects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn not_found(&self, id: &str) -> Error {
        Error::new(
            "Not Found",
            format!("Object with ID '{id}' not found"),
            self.service.as_str(),
            404,
        )
    }
}

#[bahamut::processor]
impl<T: Model> Processor<T> for MemoryProcessor<T> {
    async fn retrieve_many(&self, ctx: &mut ProcessorContext<T>) -> Result<Page<T>, Errors> {
        let parent = ctx.request().parent_identity;
        let parent_id = &ctx.request().parent_id;
        let objects = self.objects();
        let matching = objects.values().filter(|o| {
            parent == Identity::ROOT
                || (o.object.as_parented()).is_some_and(|p| p.parent_id() == parent_id)
        });
        if !ctx.sends_json_as_stored() {
            return Ok(Page::all(matching.map(|o| o.object.clone()).collect()));
        }
        let encoded = matching
            .map(Stored::encoded)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::all_encoded(encoded))
    }

    async fn retrieve_encoded(
        &self,
        ctx: &mut ProcessorContext<T>,
    ) -> Result<Retrieved<T>, Errors> {
        let id = &ctx.request().object_id;
        let objects = self.objects();
        let stored = objects.get(id).ok_or_else(|| self.not_found(id))?;
        Ok(stored.answer(ctx)?)
    }

    async fn create_encoded(
        &self,
        ctx: &mut ProcessorContext<T>,
        mut object: T,
    ) -> Result<Retrieved<T>, Errors> {
        let id = self.ids.next_id();
        object.set_id(&id);
        let request = ctx.request();
        if let Some(parent) = object
            .as_parented_mut()
            .filter(|_| !request.parent_identity.is_root())
        {
            parent.set_parent(&request.parent_id, request.parent_identity.name);
        }
        let (stored, answer) = Stored::written(object, ctx)?;
        self.objects().insert(id, stored);
        Ok(answer)
    }

    async fn update_encoded(
        &self,
        ctx: &mut ProcessorContext<T>,
        mut object: T,
    ) -> Result<Retrieved<T>, Errors> {
        let id = &ctx.request().object_id;
        let mut objects = self.objects();
        let stored = objects.get_mut(id).ok_or_else(|| self.not_found(id))?;
        if let (Some(stored), Some(parent)) =
            (stored.object.as_parented(), object.as_parented_mut())
        {
            parent.set_parent(stored.parent_id(), stored.parent_type());
        }
        let (written, answer) = Stored::written(object, ctx)?;
        *stored = written;
        Ok(answer)
    }

    async fn delete(&self, ctx: &mut ProcessorContext<T>) -> Result<T, Errors> {
        let id = &ctx.request().object_id;
        let removed = self.objects().remove(id);
        Ok(removed
            .map(|s| s.object)
            .ok_or_else(|| self.not_found(id))?)
    }
}

/// The demo server: the todo model as versions 0 and 1, one memory processor per identity.
pub fn server(options: Options) -> Result<Server, ServerError> {
    let service = options.service_name().to_string();
    let options = options.with_model(0, manager()).with_model(1, manager());
    let ids = Arc::new(ObjectIds::new());
    let mut server = Server::new(options);
    server.register_processor_within_relationships::<List, _>(MemoryProcessor::new(
        ids.clone(),
        &service,
    ))?;
    server.register_processor_within_relationships::<Task, _>(MemoryProcessor::new(
        ids.clone(),
        &service,
    ))?;
    server
        .register_processor_within_relationships::<User, _>(MemoryProcessor::new(ids, &service))?;
    Ok(server)
}
