//! credentials: a user name and password for a registry, as `podman login`
//! keeps them, and where chaosctl finds them for a pull: `--creds
//! USER:PASSWORD`, else the entry for the registry in an auth file
//! (`--authfile`, else `$REGISTRY_AUTH_FILE`, else
//! `$XDG_RUNTIME_DIR/containers/auth.json` or `/run/containers/UID/`
//! `auth.json`, else `~/.docker/config.json`: podman's order). An auth file
//! is `{"auths": {"REGISTRY": {"auth": BASE64("USER:PASSWORD")}}}`; Docker
//! Hub's entry may also be under `https://index.docker.io/v1/`.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A user name and password for a registry.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// The password never reaches a log or a message through `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("--creds: expected USER:PASSWORD")]
    Creds,
    #[error("auth file {}: {why}", path.display())]
    File { path: PathBuf, why: String },
}

/// `USER:PASSWORD` (the password may hold `:`), as `podman --creds`.
pub fn parse_creds(text: &str) -> Result<Credentials, CredentialsError> {
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Credentials {
            username: user.to_string(),
            password: password.to_string(),
        }),
        _ => Err(CredentialsError::Creds),
    }
}

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
}

/// The keys an auth file may hold `registry`'s entry under.
fn keys(registry: &str) -> Vec<String> {
    let mut keys = vec![registry.to_string()];
    if matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        keys.extend(["docker.io", "https://index.docker.io/v1/"].map(String::from));
    }
    keys
}

/// `registry`'s credentials in the auth file text `text` (read from
/// `path`), if it has an entry for it.
pub fn from_auth_file(
    text: &str,
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    let bad = |why: String| CredentialsError::File {
        path: path.to_path_buf(),
        why,
    };
    let file: AuthFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let Some((key, entry)) = keys(registry)
        .into_iter()
        .find_map(|k| file.auths.get(&k).map(|e| (k, e)))
    else {
        return Ok(None);
    };
    let Some(auth) = &entry.auth else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| bad(format!("auths.{key:?}.auth: not base64 of USER:PASSWORD")))?;
    parse_creds(&decoded)
        .map(Some)
        .map_err(|_| bad(format!("auths.{key:?}.auth: not base64 of USER:PASSWORD")))
}

/// The auth files podman would read, in its order, for a user with
/// `uid`, from these environment variables.
pub fn default_auth_files(
    uid: u32,
    registry_auth_file: Option<PathBuf>,
    xdg_runtime_dir: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Vec<PathBuf> {
    let mut files = Vec::new();
    files.extend(registry_auth_file);
    files.push(
        xdg_runtime_dir
            .map(|d| d.join("containers/auth.json"))
            .unwrap_or_else(|| PathBuf::from(format!("/run/containers/{uid}/auth.json"))),
    );
    files.extend(home.map(|h| h.join(".docker/config.json")));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn creds_split_at_the_first_colon_and_need_both_halves() {
        let c = parse_creds("me:pa:ss").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("me", "pa:ss"));
        for bad in ["me", "me:", ":pass", ""] {
            assert!(parse_creds(bad).is_err(), "{bad}");
        }
        assert!(
            !format!("{c:?}").contains("pa:ss"),
            "Debug hides the password"
        );
    }

    #[test]
    fn an_auth_file_gives_the_registrys_entry_or_none() {
        let path = Path::new("auth.json");
        let text = format!(
            r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{}"}}, "https://index.docker.io/v1/": {{"auth": "{}"}}}}}}"#,
            b64("me:secret"),
            b64("hub:pw")
        );
        let c = from_auth_file(&text, path, "127.0.0.1:5000")
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("me", "secret"));
        let hub = from_auth_file(&text, path, "docker.io").unwrap().unwrap();
        assert_eq!(hub.username, "hub");
        assert_eq!(from_auth_file(&text, path, "quay.io").unwrap(), None);
        assert_eq!(from_auth_file("{}", path, "quay.io").unwrap(), None);
    }

    #[test]
    fn a_broken_auth_file_is_named() {
        let path = Path::new("/x/auth.json");
        let err = from_auth_file("not json", path, "r")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("auth file /x/auth.json: "), "{err}");
        let text = r#"{"auths": {"r": {"auth": "%%%"}}}"#;
        let err = from_auth_file(text, path, "r").unwrap_err().to_string();
        assert!(err.contains("not base64 of USER:PASSWORD"), "{err}");
    }

    #[test]
    fn auth_files_are_looked_for_in_podmans_order() {
        assert_eq!(
            default_auth_files(0, Some("/a.json".into()), None, Some("/root".into())),
            [
                PathBuf::from("/a.json"),
                "/run/containers/0/auth.json".into(),
                "/root/.docker/config.json".into()
            ]
        );
        assert_eq!(
            default_auth_files(1000, None, Some("/run/user/1000".into()), None),
            [PathBuf::from("/run/user/1000/containers/auth.json")]
        );
    }
}
