//! log: runc-shaped log lines for `--log` and `--log-format`.
//!
//! text: `time="..." level=error msg="..."` (logrus without a terminal);
//! json: `{"level":"error","msg":"...","time":"..."}`, one object per line,
//! which is what containerd's shim reads back after a failure.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::Layer;

use super::LogFormat;

struct RuncLog {
    out: Mutex<Box<dyn Write + Send>>,
    format: LogFormat,
    max: Level,
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl<S: Subscriber> Layer<S> for RuncLog {
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        let level = event.metadata().level();
        if *level > self.max {
            return;
        }
        let mut msg = Message::default();
        event.record(&mut msg);
        let time = jolt_runtime::state::now_rfc3339();
        let line = match self.format {
            LogFormat::Json => serde_json::json!({
                "level": level_name(level),
                "msg": msg.0,
                "time": time,
            })
            .to_string(),
            LogFormat::Text => format!(
                "time={} level={} msg={}",
                serde_json::Value::from(time),
                level_name(level),
                serde_json::Value::from(msg.0)
            ),
        };
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Installs the logger: to `file` (appended) or stderr.
pub fn init(file: Option<&Path>, format: LogFormat, debug: bool) -> Result<()> {
    let out: Box<dyn Write + Send> = match file {
        Some(path) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log {}", path.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let layer = RuncLog {
        out: Mutex::new(out),
        format,
        max: if debug { Level::DEBUG } else { Level::INFO },
    };
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .context("installing the logger")?;
    Ok(())
}
