//! Embeds libtorch's library folder as an rpath, so `cargo run` and `cargo test` find libtorch at run
//! time without LD_LIBRARY_PATH. torch-sys declares `links = "tch"` and exports the folder to us as
//! `DEP_TCH_LIBTORCH_LIB` (only when the `torch` feature pulls torch-sys in).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
