// `sqlx::migrate!` embeds the migration folders at compile time, but cargo
// does not know it reads them: without this, a new migration file is not
// compiled in until some Rust file of the crate changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
