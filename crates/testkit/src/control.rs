//! A client of the emulator's control endpoints (`/_ironbark/...`): health, time scale,
//! fault injection, the request log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::HarnessError;

/// A fault-injection rule for one service (and optionally one operation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The service as in the SigV4 credential scope (`ec2`, `s3`).
    pub service: String,
    /// One operation only (`CreateVpc`), or every operation of the service.
    #[serde(default)]
    pub operation: Option<String>,
    /// Share of requests answered with the service's throttling error (0 to 1).
    #[serde(default)]
    pub throttle: f64,
    /// Share of requests answered with `error_status`.
    #[serde(default)]
    pub error_rate: f64,
    /// The status of injected errors (500 or 503).
    #[serde(default = "default_status")]
    pub error_status: u16,
    /// Latency added to every matching request.
    #[serde(default)]
    pub latency_ms: u64,
    /// Apply to the first N matching requests only.
    #[serde(default)]
    pub count: Option<u64>,
}

fn default_status() -> u16 {
    500
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Sequence number.
    pub seq: u64,
    /// Service.
    pub service: String,
    /// Operation.
    pub operation: String,
    /// `read` or `write`.
    pub class: String,
    /// Unix time.
    pub time: f64,
    /// HTTP status returned.
    pub status: u16,
    /// The injected fault, if any.
    pub fault: Option<String>,
    /// The access key id of the caller.
    #[serde(default)]
    pub access_key: Option<String>,
}

/// Counts for one operation in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationSummary {
    /// Requests.
    pub count: u64,
    /// `read` or `write`.
    pub class: String,
    /// Requests answered with an injected fault.
    #[serde(default)]
    pub faults: u64,
}

/// The request log's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSummary {
    /// Requests.
    pub total: u64,
    /// Read requests.
    pub reads: u64,
    /// Write requests.
    pub writes: u64,
    /// Requests answered with an injected fault.
    pub faults: u64,
    /// Per `service:Operation`.
    pub by_operation: BTreeMap<String, OperationSummary>,
}

impl LogSummary {
    /// The write operations in the summary (for assertion messages).
    #[must_use]
    pub fn write_operations(&self) -> Vec<&str> {
        self.by_operation
            .iter()
            .filter(|(_, s)| s.class == "write")
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// How many times each write operation was made since `before` (an earlier summary of
    /// the same caller); operations not made since are left out.
    #[must_use]
    pub fn writes_since(&self, before: &Self) -> BTreeMap<String, u64> {
        self.by_operation
            .iter()
            .filter(|(_, s)| s.class == "write")
            .map(|(op, s)| {
                let earlier = before.by_operation.get(op).map_or(0, |b| b.count);
                (op.clone(), s.count.saturating_sub(earlier))
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// The control client.
#[derive(Debug, Clone)]
pub struct EmulatorControl {
    base: String,
}

impl EmulatorControl {
    /// A client for the emulator at `url`.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            base: url.trim_end_matches('/').to_owned(),
        }
    }

    fn err(&self, endpoint: &str, e: impl std::fmt::Display) -> HarnessError {
        HarnessError::Control {
            endpoint: format!("{}{endpoint}", self.base),
            detail: e.to_string(),
        }
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, endpoint: &str) -> Result<T, HarnessError> {
        ureq::get(format!("{}{endpoint}", self.base))
            .call()
            .map_err(|e| self.err(endpoint, e))?
            .body_mut()
            .read_json()
            .map_err(|e| self.err(endpoint, e))
    }

    fn send(
        &self,
        method: &str,
        endpoint: &str,
        body: &impl Serialize,
    ) -> Result<Value, HarnessError> {
        let url = format!("{}{endpoint}", self.base);
        let response = match method {
            "DELETE" => ureq::delete(url).call(),
            _ => ureq::post(url).send_json(body),
        };
        let mut response = response.map_err(|e| self.err(endpoint, e))?;
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| self.err(endpoint, e))?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET /_ironbark/health`.
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn health(&self) -> Result<Value, HarnessError> {
        self.get("/_ironbark/health")
    }

    /// Sets the time scale (`0` = instant).
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn set_time_scale(&self, scale: f64) -> Result<(), HarnessError> {
        self.send(
            "POST",
            "/_ironbark/time-scale",
            &serde_json::json!({ "time_scale": scale }),
        )
        .map(drop)
    }

    /// Adds or replaces a fault rule.
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn set_fault(&self, rule: &FaultRule) -> Result<(), HarnessError> {
        self.send("POST", "/_ironbark/faults", rule).map(drop)
    }

    /// The active fault rules.
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn faults(&self) -> Result<Value, HarnessError> {
        self.get("/_ironbark/faults")
    }

    /// Removes every fault rule.
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn clear_faults(&self) -> Result<(), HarnessError> {
        self.send("DELETE", "/_ironbark/faults", &Value::Null)
            .map(drop)
    }

    /// Every logged request.
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn log(&self) -> Result<Vec<LogEntry>, HarnessError> {
        #[derive(Deserialize)]
        struct Entries {
            entries: Vec<LogEntry>,
        }
        self.get::<Entries>("/_ironbark/log").map(|e| e.entries)
    }

    /// The log's summary.
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn log_summary(&self) -> Result<LogSummary, HarnessError> {
        self.get("/_ironbark/log/summary")
    }

    /// The summary of the requests signed with `access_key` only.
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn log_summary_for(&self, access_key: &str) -> Result<LogSummary, HarnessError> {
        self.get(&format!("/_ironbark/log/summary?access_key={access_key}"))
    }

    /// Clears the log.
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn reset_log(&self) -> Result<(), HarnessError> {
        self.send("POST", "/_ironbark/log/reset", &Value::Null)
            .map(drop)
    }

    /// Resets every emulated resource (moto's `/moto-api/reset`).
    ///
    /// # Errors
    /// When the emulator does not answer.
    pub fn reset(&self) -> Result<(), HarnessError> {
        self.send("POST", "/moto-api/reset", &Value::Null).map(drop)
    }
}
