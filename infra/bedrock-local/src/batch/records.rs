//! The JSONL of a batch job, without I/O: input records read from a file, and the output lines
//! and manifest written back (Bedrock's layout: `recordId`, `modelInput`, then `modelOutput` or
//! `error {errorCode, errorMessage}`; `manifest.json.out` with the totals).

use serde_json::{Value, json};

/// One input record.
#[derive(Debug, Clone)]
pub struct Record {
    /// As given, or generated (11 uppercase alphanumerics) when the line has none.
    pub id: String,
    pub model_input: Value,
}

/// One input file: its name relative to the input prefix, and its records.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub name: String,
    pub records: Vec<Record>,
}

/// What one record produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    Output {
        output: Value,
        input_tokens: u64,
        output_tokens: u64,
    },
    Error {
        code: u16,
        message: String,
    },
}

/// The totals of `manifest.json.out` (also on GetModelInvocationJob).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub total: u64,
    pub processed: u64,
    pub success: u64,
    pub error: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Totals {
    pub fn add(&mut self, outcome: &Outcome) {
        self.processed += 1;
        match outcome {
            Outcome::Output {
                input_tokens,
                output_tokens,
                ..
            } => {
                self.success += 1;
                self.input_tokens += input_tokens;
                self.output_tokens += output_tokens;
            }
            Outcome::Error { .. } => self.error += 1,
        }
    }

    pub fn manifest(&self) -> Value {
        json!({
            "totalRecordCount": self.total,
            "processedRecordCount": self.processed,
            "successRecordCount": self.success,
            "errorRecordCount": self.error,
            "inputTokenCount": self.input_tokens,
            "outputTokenCount": self.output_tokens,
        })
    }
}

fn generated_id() -> String {
    uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase()
        .chars()
        .take(11)
        .collect()
}

/// Parses a JSONL input file. A line that is not a JSON object with a `modelInput` object
/// (and, if present, a string `recordId`) fails the whole job, as Bedrock's validation does;
/// blank lines are skipped.
pub fn parse(name: &str, text: &str) -> Result<InputFile, String> {
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| format!("Invalid record in {name} at line {}: {why}", i + 1);
        let v: Value = serde_json::from_str(line).map_err(|_| bad("not valid JSON"))?;
        let model_input = match v.get("modelInput") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => return Err(bad("the modelInput object is missing")),
        };
        let id = match v.get("recordId") {
            None | Some(Value::Null) => generated_id(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(bad("recordId must be a non-empty string")),
        };
        records.push(Record { id, model_input });
    }
    Ok(InputFile {
        name: name.to_string(),
        records,
    })
}

/// One output line.
pub fn line(record: &Record, outcome: &Outcome) -> String {
    let mut v = json!({"recordId": record.id, "modelInput": record.model_input});
    match outcome {
        Outcome::Output { output, .. } => v["modelOutput"] = output.clone(),
        Outcome::Error { code, message } => {
            v["error"] = json!({"errorCode": code, "errorMessage": message});
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_and_writes_lines() {
        let text = "{\"recordId\":\"R1\",\"modelInput\":{\"inputText\":\"hi\"}}\n\n{\"modelInput\":{\"inputText\":\"yo\"}}\n";
        let f = parse("a.jsonl", text).unwrap();
        assert_eq!(f.records.len(), 2);
        assert_eq!(f.records[0].id, "R1");
        assert_eq!(f.records[1].id.len(), 11);
        assert!(
            parse("a.jsonl", "{\"recordId\":\"x\"}")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(
            parse("a.jsonl", "nope")
                .unwrap_err()
                .contains("not valid JSON")
        );
        let ok = Outcome::Output {
            output: json!({"x": 1}),
            input_tokens: 3,
            output_tokens: 4,
        };
        let bad = Outcome::Error {
            code: 400,
            message: "bad".into(),
        };
        let l: Value = serde_json::from_str(&line(&f.records[0], &ok)).unwrap();
        assert_eq!(l["modelOutput"]["x"], 1);
        let l: Value = serde_json::from_str(&line(&f.records[0], &bad)).unwrap();
        assert_eq!(l["error"]["errorCode"], 400);
        assert!(l.get("modelOutput").is_none());
        let mut t = Totals {
            total: 2,
            ..Totals::default()
        };
        t.add(&ok);
        t.add(&bad);
        assert_eq!(
            t.manifest(),
            json!({"totalRecordCount": 2, "processedRecordCount": 2, "successRecordCount": 1,
                   "errorRecordCount": 1, "inputTokenCount": 3, "outputTokenCount": 4})
        );
    }
}
