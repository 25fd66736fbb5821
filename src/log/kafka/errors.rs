//! How librdkafka's errors become [`LogError`]s: `Invalid` for what no retry can fix,
//! `Unavailable` for everything that may pass (the cluster away, elections, timeouts).

use hcal_actors::log::LogError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

pub(super) fn kafka_error(action: &str, e: KafkaError) -> LogError {
    let message = format!("kafka: {action}: {e}");
    match e.rdkafka_error_code() {
        Some(code) => classify(code, message),
        None => LogError::Unavailable(message),
    }
}

/// Errors that no retry can fix are `Invalid`; everything else (the broker being away, leader
/// elections, timeouts, authorisation that an operator may still grant) is `Unavailable`.
pub(super) fn classify(code: RDKafkaErrorCode, message: String) -> LogError {
    match code {
        RDKafkaErrorCode::MessageSizeTooLarge
        | RDKafkaErrorCode::InvalidMessageSize
        | RDKafkaErrorCode::InvalidTopic
        | RDKafkaErrorCode::UnknownPartition
        | RDKafkaErrorCode::InvalidPartitions
        | RDKafkaErrorCode::InvalidReplicationFactor
        | RDKafkaErrorCode::InvalidRequest
        | RDKafkaErrorCode::InvalidConfig
        | RDKafkaErrorCode::PolicyViolation
        | RDKafkaErrorCode::InvalidGroupId
        | RDKafkaErrorCode::UnsupportedVersion => LogError::Invalid(message),
        _ => LogError::Unavailable(message),
    }
}

/// Failures of transaction calls split into transient (`Unavailable`) and "this broker will
/// not do transactions" (`Invalid`).
pub(super) fn transaction_error(action: &str, e: KafkaError) -> LogError {
    let transient = match &e {
        // librdkafka flags a broker without `EndTxn` as retriable (the coordinator might move to
        // a broker that has it); for hcal it means "no transactions on this cluster".
        KafkaError::Transaction(err) if err.code() == RDKafkaErrorCode::UnsupportedFeature => false,
        KafkaError::Transaction(err) => err.is_retriable() || is_transient(err.code()),
        other => other.rdkafka_error_code().is_some_and(is_transient),
    };
    if transient {
        LogError::Unavailable(format!("kafka: {action}: {e}"))
    } else {
        LogError::Invalid(format!("kafka: {action}: {e}"))
    }
}

pub(super) fn is_transient(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::TimedOutQueue
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::CoordinatorNotAvailable
            | RDKafkaErrorCode::NotCoordinator
            | RDKafkaErrorCode::CoordinatorLoadInProgress
    )
}
