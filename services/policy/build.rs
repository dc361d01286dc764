// The migrations are embedded by `sqlx::migrate!`, which does not tell
// cargo about new files: rebuild when the directory changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
