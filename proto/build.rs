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
        // CMAF payloads move from the part log to the wire and back without a copy.
        .bytes(".ferrocast.relay.v1.InitSegment.data")
        .bytes(".ferrocast.relay.v1.Part.data")
        .compile_fds(descriptors)?;
    Ok(())
}
