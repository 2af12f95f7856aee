//! The sender's tests: the core on the embedded store, the in-process queues, the Graph API twin
//! and a manual clock (one test per SPEC rule it implements), the SQS handler, and one end-to-end
//! run on DynamoDB and SQS (moto).

mod campaigns;
mod graph;
mod handler;
mod harness;
mod moto;
mod send;
mod updates;
