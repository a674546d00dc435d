//! weights: `linux.resources.blockIO` weights, written to whichever file
//! the host's I/O scheduler provides, as runc chooses: on v1
//! `blkio.weight` (CFQ), else `blkio.bfq.weight` (BFQ); on v2
//! `io.bfq.weight`, else `io.weight` with the weight scaled from blkio's
//! 10..1000 to io's 1..10000. cgroups-rs knows one file for each and fails
//! without it; the throttles stay with cgroups-rs.

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use super::{write_file, Hierarchy, WriteError};

/// The weights of a blockIO section, taken out of it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Weights {
    weight: Option<u16>,
    leaf_weight: Option<u16>,
    /// (major, minor, weight, leaf weight)
    devices: Vec<(i64, i64, Option<u16>, Option<u16>)>,
}

impl Weights {
    pub fn is_empty(&self) -> bool {
        self.weight.is_none() && self.leaf_weight.is_none() && self.devices.is_empty()
    }
}

/// Takes the weights out of `blkio`, leaving the throttles.
pub fn take(blkio: &mut LinuxBlockIo) -> Weights {
    let devices = blkio
        .weight_device()
        .iter()
        .flatten()
        .map(|d| (d.major(), d.minor(), d.weight(), d.leaf_weight()))
        .collect();
    let w = Weights {
        weight: blkio.weight(),
        leaf_weight: blkio.leaf_weight(),
        devices,
    };
    blkio.set_weight(None);
    blkio.set_leaf_weight(None);
    blkio.set_weight_device(None);
    w
}

/// runc's scaling of a blkio weight (10..1000) to an io.weight (1..10000).
pub fn io_weight(blkio: u16) -> u64 {
    1 + (u64::from(blkio).saturating_sub(10)) * 9999 / 990
}

/// Writes `w` into the cgroup directory `dir` of the blkio (v1) or io (v2)
/// controller.
pub fn write<H: Hierarchy>(dir: &Path, w: &Weights) -> Result<(), WriteError> {
    let exists = |f: &str| dir.join(f).exists();
    let put = |file: &str, value: String| write_file(dir, file, value);
    if H::UNIFIED {
        let bfq = exists("io.bfq.weight");
        if let Some(weight) = w.weight {
            match bfq {
                true => put("io.bfq.weight", weight.to_string())?,
                false => put("io.weight", format!("default {}", io_weight(weight)))?,
            }
        }
        for (major, minor, weight, _) in &w.devices {
            if let Some(weight) = weight {
                match bfq {
                    true => put("io.bfq.weight", format!("{major}:{minor} {weight}"))?,
                    false => put(
                        "io.weight",
                        format!("{major}:{minor} {}", io_weight(*weight)),
                    )?,
                }
            }
        }
        // cgroup v2 has no leaf weight (runc ignores it there too).
        return Ok(());
    }
    let (weight, device) = if !exists("blkio.weight") && exists("blkio.bfq.weight") {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("blkio.weight", "blkio.weight_device")
    };
    if let Some(v) = w.weight {
        put(weight, v.to_string())?;
    }
    if let Some(v) = w.leaf_weight {
        put("blkio.leaf_weight", v.to_string())?;
    }
    for (major, minor, weight, leaf) in &w.devices {
        if let Some(v) = weight {
            put(device, format!("{major}:{minor} {v}"))?;
        }
        if let Some(v) = leaf {
            put("blkio.leaf_weight_device", format!("{major}:{minor} {v}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::{V1, V2};
    use std::fs;

    fn weights(weight: u16, device: Option<(i64, i64, u16)>) -> Weights {
        Weights {
            weight: Some(weight),
            leaf_weight: None,
            devices: device
                .map(|(a, b, w)| (a, b, Some(w), None))
                .into_iter()
                .collect(),
        }
    }

    /// A directory with these (empty) files, as cgroupfs shows them.
    fn dir_with(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            fs::write(dir.path().join(f), "").unwrap();
        }
        dir
    }

    fn read(dir: &tempfile::TempDir, f: &str) -> String {
        fs::read_to_string(dir.path().join(f)).unwrap()
    }

    #[test]
    fn runc_scales_blkio_weights_to_io_weights() {
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(500), 4950);
        assert_eq!(io_weight(1000), 10000);
    }

    #[test]
    fn v2_uses_bfq_when_it_is_there_and_io_weight_otherwise() {
        let bfq = dir_with(&["io.bfq.weight", "io.weight"]);
        write::<V2>(bfq.path(), &weights(500, None)).unwrap();
        assert_eq!(read(&bfq, "io.bfq.weight"), "500");

        let plain = dir_with(&["io.weight"]);
        write::<V2>(plain.path(), &weights(500, None)).unwrap();
        assert_eq!(read(&plain, "io.weight"), "default 4950");
        let device = Weights {
            devices: vec![(8, 0, Some(100), None)],
            ..Weights::default()
        };
        let plain = dir_with(&["io.weight"]);
        write::<V2>(plain.path(), &device).unwrap();
        assert_eq!(read(&plain, "io.weight"), "8:0 910");
    }

    #[test]
    fn v1_uses_cfq_files_else_bfq_files() {
        let cfq = dir_with(&["blkio.weight", "blkio.weight_device", "blkio.bfq.weight"]);
        write::<V1>(cfq.path(), &weights(300, None)).unwrap();
        assert_eq!(read(&cfq, "blkio.weight"), "300");
        assert_eq!(read(&cfq, "blkio.bfq.weight"), "");

        let bfq = dir_with(&["blkio.bfq.weight", "blkio.bfq.weight_device"]);
        write::<V1>(bfq.path(), &weights(300, Some((8, 0, 200)))).unwrap();
        assert_eq!(read(&bfq, "blkio.bfq.weight"), "300");
        assert_eq!(read(&bfq, "blkio.bfq.weight_device"), "8:0 200");
    }

    #[test]
    fn neither_file_is_an_error_naming_the_file() {
        let none = dir_with(&[]);
        let (file, value, _) = write::<V1>(none.path(), &weights(300, None)).unwrap_err();
        assert_eq!((file.as_str(), value.as_str()), ("blkio.weight", "300"));
    }
}
