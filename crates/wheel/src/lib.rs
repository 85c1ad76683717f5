//! Read wheels: the file name (PEP 427/491, compressed tag sets), the zip archive (without
//! extracting it), `WHEEL` metadata and `RECORD` with hash verification.
//!
//! Everything here is safe to call from many threads: [`Wheel`] is `Sync` and every member read
//! uses its own positioned reads of the file.

mod error;
mod filename;
mod metadata;
mod record;
mod write;
mod zipread;

pub use error::Error;
pub use filename::WheelFilename;
pub use metadata::WheelMetadata;
pub use record::{hash_digest, Record, RecordEntry};
pub use write::{write_wheel, OutMember, Source, WriteOptions};
pub use zipread::{Member, RawMember, Wheel, MAX_MEMBER_SIZE};
