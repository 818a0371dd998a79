//! The conformance suite on the in-memory backend.

#[tokio::test]
async fn memory_backend_conformance() {
    testkit::conformance::run_all(|| async { manipulate::MemoryManipulator::new() }).await;
}
