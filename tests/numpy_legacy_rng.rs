//! numpy-legacy primitives against numpy itself: `tests/fixtures/numpy_legacy.json` is written by
//! `scripts/numpy_fixture.py` with numpy's `RandomState` (regenerate it with that script).

use commons_rl::rng::mt19937::Mt19937;
use commons_rl::rng::primitives::Stream;

#[test]
fn primitives_match_numpy_random_state() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/numpy_legacy.json"
    ))
    .expect("fixture");
    let fixture: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    let cases = fixture["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 5);
    let mut checked = 0;
    for case in cases {
        let seed = case["seed"].as_u64().unwrap() as u32;
        let mut s = Stream::new(Mt19937::new(seed));
        for (i, op) in case["ops"].as_array().unwrap().iter().enumerate() {
            let name = op["op"].as_str().unwrap();
            let value = &op["value"];
            let ctx = format!("seed {seed}, op #{i} ({name})");
            match name {
                "uniform" => assert_eq!(s.uniform(), value.as_f64().unwrap(), "{ctx}"),
                "exponential" => {
                    assert_eq!(s.standard_exponential(), value.as_f64().unwrap(), "{ctx}")
                }
                "gauss" => assert_eq!(s.gauss(), value.as_f64().unwrap(), "{ctx}"),
                "gamma" => {
                    let shape = op["arg"].as_f64().unwrap();
                    assert_eq!(s.standard_gamma(shape), value.as_f64().unwrap(), "{ctx}")
                }
                "choice" => {
                    let n = op["arg"].as_u64().unwrap() as usize;
                    assert_eq!(s.index(n) as u64, value.as_u64().unwrap(), "{ctx}")
                }
                other => panic!("unknown op {other}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 300);
}
