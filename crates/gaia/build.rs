fn main() {
    regolithe::build("specs", "model.rs");
    regolithe::build_openapi("specs", "openapi.json");
}
