//! The demo server of the reference session: the todo model served from memory.
//!
//! Create assigns a fresh 24-hex object id; a missing id answers 404
//! `Object with ID '<id>' not found`. Lists serve retrieve-many, retrieve, create, update and
//! delete (no patch, no info, as in the reference); tasks and users the same, children of lists
//! where the model says so.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bahamut::{
    Context, CreateProcessor, DeleteProcessor, Options, ProcessorResult, ProcessorSet,
    RetrieveManyProcessor, RetrieveProcessor, Server, ServerError, UpdateProcessor,
};
use elemental::{Error, Identity, Sparse};

use crate::model::{List, Task, User, manager};

/// The object ids of the storage-backed processors (MongoDB style), also used here.
pub use crud::ObjectIds;

/// What the demo needs to know about a model: its parent link (`parentID`, `parentType`).
pub trait DemoModel: Sparse {
    /// The parent link.
    fn parent(&self) -> (&str, &str);
    /// Records the parent link.
    fn set_parent(&mut self, parent_id: &str, parent_type: &str);
}

macro_rules! demo_model {
    ($($model:ty),*) => {$(
        impl DemoModel for $model {
            fn parent(&self) -> (&str, &str) {
                (&self.parent_id, &self.parent_type)
            }
            fn set_parent(&mut self, parent_id: &str, parent_type: &str) {
                self.parent_id = parent_id.to_string();
                self.parent_type = parent_type.to_string();
            }
        }
    )*};
}

demo_model!(List, Task, User);

/// An in-memory processor for one model, objects in id (creation) order.
pub struct MemoryProcessor<T> {
    objects: Mutex<BTreeMap<String, T>>,
    ids: Arc<ObjectIds>,
    service: String,
}

impl<T: DemoModel> MemoryProcessor<T> {
    /// An empty store.
    pub fn new(ids: Arc<ObjectIds>, service: &str) -> Self {
        Self {
            objects: Mutex::new(BTreeMap::new()),
            ids,
            service: service.to_string(),
        }
    }

    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, T>> {
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

fn input<T: Sparse>(ctx: &mut Context<T>) -> T {
    ctx.take_input().unwrap_or_default()
}

impl<T: DemoModel> RetrieveManyProcessor<T> for MemoryProcessor<T> {
    async fn process_retrieve_many(&self, ctx: &mut Context<T>) -> ProcessorResult {
        let parent = ctx.request().parent_identity;
        let parent_id = ctx.request().parent_id.clone();
        let objects: Vec<T> = self
            .objects()
            .values()
            .filter(|o| parent == Identity::ROOT || o.parent().0 == parent_id)
            .cloned()
            .collect();
        ctx.set_count(objects.len() as u64);
        ctx.set_output_many(objects);
        Ok(())
    }
}

impl<T: DemoModel> RetrieveProcessor<T> for MemoryProcessor<T> {
    async fn process_retrieve(&self, ctx: &mut Context<T>) -> ProcessorResult {
        let id = ctx.request().object_id.clone();
        let found = self.objects().get(&id).cloned();
        ctx.set_output(found.ok_or_else(|| self.not_found(&id))?);
        Ok(())
    }
}

impl<T: DemoModel> CreateProcessor<T> for MemoryProcessor<T> {
    async fn process_create(&self, ctx: &mut Context<T>) -> ProcessorResult {
        let mut object = input(ctx);
        let id = self.ids.next_id();
        object.set_id(&id);
        let request = ctx.request();
        if !request.parent_identity.is_root() {
            object.set_parent(&request.parent_id, request.parent_identity.name);
        }
        self.objects().insert(id, object.clone());
        ctx.set_output(object);
        Ok(())
    }
}

impl<T: DemoModel> UpdateProcessor<T> for MemoryProcessor<T> {
    async fn process_update(&self, ctx: &mut Context<T>) -> ProcessorResult {
        let id = ctx.request().object_id.clone();
        let mut object = input(ctx);
        let mut objects = self.objects();
        let stored = objects.get_mut(&id).ok_or_else(|| self.not_found(&id))?;
        let (parent_id, parent_type) = stored.parent();
        object.set_parent(parent_id, parent_type);
        *stored = object.clone();
        drop(objects);
        ctx.set_output(object);
        Ok(())
    }
}

impl<T: DemoModel> DeleteProcessor<T> for MemoryProcessor<T> {
    async fn process_delete(&self, ctx: &mut Context<T>) -> ProcessorResult {
        let id = ctx.request().object_id.clone();
        let removed = self.objects().remove(&id);
        ctx.set_output(removed.ok_or_else(|| self.not_found(&id))?);
        Ok(())
    }
}

fn processor<T: DemoModel>(
    ids: &Arc<ObjectIds>,
    service: &str,
) -> ProcessorSet<T, MemoryProcessor<T>> {
    ProcessorSet::new(MemoryProcessor::new(ids.clone(), service))
        .retrieve_many()
        .retrieve()
        .create()
        .update()
        .delete()
}

/// The demo server: the todo model as versions 0 and 1, one memory processor per identity.
pub fn server(options: Options) -> Result<Server, ServerError> {
    let service = options.service_name.clone();
    let options = options.with_model(0, manager()).with_model(1, manager());
    let ids = Arc::new(ObjectIds::new());
    let mut server = Server::new(options);
    server.register_processor(processor::<List>(&ids, &service))?;
    server.register_processor(processor::<Task>(&ids, &service))?;
    server.register_processor(processor::<User>(&ids, &service))?;
    Ok(server)
}
