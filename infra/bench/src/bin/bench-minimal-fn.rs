//! The floor of the benchmark: the smallest useful Rust Lambda function (echoes its event), built
//! with the same `lambda_runtime`, tokio and release profile as the gateway's functions.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
