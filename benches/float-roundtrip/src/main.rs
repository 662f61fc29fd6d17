//! Parses a typical API document into typed structs, `N` times (env, default 200), so that
//! `scripts/bench-float-roundtrip` can count the instructions with and without serde_json's
//! `float_roundtrip`. `ONLY=floats` or `ONLY=integers` picks one document: 100 objects, each
//! with two floats of 16–17 significant digits, or the same objects with integers instead.

use std::hint::black_box;

#[derive(serde::Deserialize)]
#[expect(
    dead_code,
    reason = "parsed, never read: the parse is what is measured"
)]
struct Item {
    id: u64,
    name: String,
    price: f64,
    ratio: f64,
    tags: Vec<String>,
    active: bool,
}

fn document(floats: bool) -> String {
    let items: Vec<String> = (0..100u32)
        .map(|i| {
            let (price, ratio) = if floats {
                (
                    (f64::from(i) * 1.37 + 0.1).to_string(),
                    (1.0 / (f64::from(i) + 3.0)).to_string(),
                )
            } else {
                ((i * 137).to_string(), (i * 7).to_string())
            };
            format!(
                r#"{{"id":{i},"name":"item {i}","price":{price},"ratio":{ratio},"tags":["a","b"],"active":true}}"#
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn main() {
    let times: usize = std::env::var("N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let only = std::env::var("ONLY").unwrap_or_default();
    for (label, floats) in [("floats", true), ("integers", false)] {
        if !only.is_empty() && only != label {
            continue;
        }
        let text = document(floats);
        for _ in 0..times {
            let items: Vec<Item> = serde_json::from_str(black_box(&text)).expect("valid JSON");
            black_box(items);
        }
        println!("{label}: {times} parses of a {}-byte document", text.len());
    }
}
