//! Compiles `proto/ai/v1/ai.proto` into the gRPC service (`ai.v1`) and the
//! descriptor set server reflection serves. The .proto is parsed by protox,
//! in Rust, so building needs no `protoc` (nor the Nix sandbox one).

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["ai/v1/ai.proto"], ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("ai_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
