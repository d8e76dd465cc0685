//! Generates the gRPC code with a pure-Rust protobuf compiler (protox), so a fresh machine
//! needs nothing beyond cargo.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["ferrocast/control.proto", "ferrocast/relay.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        .bytes(".ferrocast.relay.v1.MediaFrame.tag")
        .compile_fds(descriptors)?;
    Ok(())
}
