//! `chaosctl certs`: a CA and the certificates of joltd's TCP listeners
//! and of chaosctl, for trying a fleet (or a small one for good).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// Make a CA (or use the one in DIR) and certificates signed by it:
/// one per --node for joltd's --listen (named by the address or DNS
/// name chaosctl dials), one per --client for chaosctl
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the files go: ca.pem and ca-key.pem, NAME.pem and NAME-key.pem
    #[arg(long, default_value = "certs")]
    dir: PathBuf,
    /// A node's certificate, for this IP address or DNS name (repeatable)
    #[arg(long = "node", value_name = "ADDRESS_OR_NAME")]
    nodes: Vec<String>,
    /// A client's certificate, with this common name (repeatable)
    #[arg(long = "client", value_name = "NAME")]
    clients: Vec<String>,
    /// Days the new certificates are valid for (0: already expired, to
    /// see a refusal)
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(0..=3650))]
    days: u32,
}

/// Writes `text` to `path`, which must not exist; `mode` for keys.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("{} (remove it to make it again)", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| path.display().to_string())
}

/// A file name for `name`: letters, digits, `.`, `-`, `_` and `:` only.
fn checked(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if !ok {
        bail!("{name:?}: not a name for a certificate (letters, digits, '.', '-', '_', ':')");
    }
    Ok(name)
}

/// The CA in `dir`, made when missing.
fn ca(dir: &Path) -> Result<Issuer<'static, KeyPair>> {
    let (cert, key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    if cert.exists() {
        let key_pem =
            fs::read_to_string(&key).with_context(|| format!("the CA's key {}", key.display()))?;
        let cert_pem = fs::read_to_string(&cert).with_context(|| cert.display().to_string())?;
        let key = KeyPair::from_pem(&key_pem).with_context(|| key.display().to_string())?;
        return Issuer::from_ca_cert_pem(&cert_pem, key)
            .with_context(|| format!("{}: not a CA certificate", cert.display()));
    }
    let key_pair = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own: another fleet's CA is then told apart by name,
    // not only by a signature that fails.
    let raw = key_pair.public_key_raw();
    let tag: String = raw[raw.len() - 4..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("jolt fleet CA {tag}"));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    let made = params.self_signed(&key_pair)?;
    write_new(&key, &key_pair.serialize_pem(), 0o600)?;
    write_new(&cert, &made.pem(), 0o644)?;
    println!("{}", cert.display());
    Ok(Issuer::new(params, key_pair))
}

pub fn exec(a: &Args) -> Result<()> {
    if a.nodes.is_empty() && a.clients.is_empty() && a.dir.join("ca.pem").exists() {
        bail!(
            "nothing to make: give --node or --client (the CA in {} exists)",
            a.dir.display()
        );
    }
    fs::create_dir_all(&a.dir).with_context(|| a.dir.display().to_string())?;
    let issuer = ca(&a.dir)?;
    let now = OffsetDateTime::now_utc();
    let leaves = a
        .nodes
        .iter()
        .map(|n| (n, ExtendedKeyUsagePurpose::ServerAuth))
        .chain(
            a.clients
                .iter()
                .map(|c| (c, ExtendedKeyUsagePurpose::ClientAuth)),
        );
    for (name, usage) in leaves {
        let name = checked(name)?;
        let sans = match usage {
            ExtendedKeyUsagePurpose::ServerAuth => vec![name.to_string()],
            _ => Vec::new(),
        };
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(a.days.into()) - Duration::seconds(1);
        let key_pair = KeyPair::generate()?;
        let cert = params.signed_by(&key_pair, &issuer)?;
        let (cert_path, key_path) = (
            a.dir.join(format!("{name}.pem")),
            a.dir.join(format!("{name}-key.pem")),
        );
        write_new(&key_path, &key_pair.serialize_pem(), 0o600)?;
        write_new(&cert_path, &cert.pem(), 0o644)?;
        println!("{}", cert_path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_file_names_only_when_safe() {
        assert!(checked("10.0.0.1").is_ok() && checked("joltd").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(checked(bad).is_err(), "{bad}");
        }
    }
}
