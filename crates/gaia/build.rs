fn main() {
    regolithe::build("specs", "model.rs");
}
