//! `jolt features`: what this jolt supports, as runtime-spec's features
//! document (indented as runc prints it).

use anyhow::Result;

pub fn exec() -> Result<()> {
    let doc = jolt_runtime::features::document();
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&doc, &mut ser)?;
    println!("{}", String::from_utf8(out)?);
    Ok(())
}
