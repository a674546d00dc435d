//! Headless Chromium opens a page as a person's browser would: the DOM
//! after load, the console errors, a screenshot, and no browser left.

use std::fs;
use std::time::Instant;

use jolt_e2e::chromium::{open, png_size, processes_under, require_chromium, WINDOW};

#[test]
fn a_page_gives_its_dom_a_screenshot_and_no_console_errors() {
    if !require_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    fs::write(
        &html,
        r##"<!doctype html>
<html><head><meta charset="utf-8"><title>report</title></head>
<body><h1 id="verdict">Verdict: steady</h1>
<svg width="400" height="60"><rect class="fault" x="10" y="10" width="120" height="30" fill="#c33"/></svg>
<script>console.log("drawn"); console.warn("only a warning");
document.getElementById("verdict").dataset.checked = "yes";</script>
</body></html>
"##,
    )
    .unwrap();

    let start = Instant::now();
    let page = open(&html, &dir.path().join("out")).unwrap();
    eprintln!("chromium: start to screenshot in {:?}", start.elapsed());

    assert!(
        page.dom
            .contains(r#"<h1 id="verdict" data-checked="yes">Verdict: steady</h1>"#),
        "the DOM after load: {}",
        page.dom
    );
    assert_eq!(
        page.dom.matches(r#"<rect class="fault""#).count(),
        1,
        "{}",
        page.dom
    );
    assert_eq!(page.console_errors, Vec::<String>::new());
    assert_eq!(page.screenshot, dir.path().join("out/report.png"));
    assert_eq!(png_size(&page.screenshot).unwrap(), WINDOW);
    assert_eq!(processes_under(&dir.path().join("out")), Vec::<i32>::new());
    assert!(!dir.path().join("out/report.chromium-profile").exists());
}

#[test]
fn console_errors_and_uncaught_exceptions_are_reported() {
    if !require_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("broken.html");
    fs::write(
        &html,
        r#"<!doctype html>
<html><body><h1>broken</h1>
<script>console.log("fine"); console.error("the verdict is missing", 7);</script>
<script>undefined_fn();</script>
</body></html>
"#,
    )
    .unwrap();

    let page = open(&html, dir.path()).unwrap();

    let url = format!("file://{}", html.canonicalize().unwrap().display());
    assert_eq!(
        page.console_errors,
        [
            format!("console.error: the verdict is missing 7 ({url}:3)"),
            format!("Uncaught ReferenceError: undefined_fn is not defined ({url}:4)"),
        ]
    );
    assert!(page.dom.contains("<h1>broken</h1>"), "{}", page.dom);
    png_size(&page.screenshot).unwrap();
    assert_eq!(processes_under(dir.path()), Vec::<i32>::new());
}
